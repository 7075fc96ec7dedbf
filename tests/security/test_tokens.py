"""Issue 11 item 7: tokens never leak, and the host controls who holds one.

`join --token` put the token in argv (`ps`, shell history) and the host's `?` screen
suggested it. Now: --token is refused in one line naming the alternatives; tokens come
from --token-file F, --token-file - (stdin) or $GOTUI_TOKEN; a headless share can
write them to 0600 files; the host lists, kicks and rotates; no token ever appears in
an event, an error or the share's stderr."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gotui.backends.model import GotuiError
from gotui.backends.remote.client import join
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests import gofixtures
from tests.remote.conftest import make_host, raw_connect, wait_for

from .conftest import GOTUI, run_gotui


def test_token_on_the_command_line_is_refused() -> None:
    res = run_gotui("join", "ws://127.0.0.1:1", "--token", "s3cr3t-value", timeout=60)
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "--token-file" in line and "GOTUI_TOKEN" in line and "stdin" in line
    assert "s3cr3t-value" not in line


async def test_token_from_a_file_stdin_or_the_environment(tmp_path: Path) -> None:
    h = await make_host()
    url = h.url
    try:
        def join_cli(*args: str, stdin: str | None = None,
                     env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
            return run_gotui("join", url, *args, stdin=stdin, env=env, timeout=60)

        loose = tmp_path / "loose.token"
        loose.write_text("wrong-token\n")
        loose.chmod(0o644)
        res = await asyncio.to_thread(join_cli, "--token-file", str(loose))
        assert res.returncode == 2 and "chmod 600" in res.stderr, res.stderr
        tight = tmp_path / "tight.token"
        tight.write_text("wrong-token\n")
        tight.chmod(0o600)
        for args, stdin, env in ((("--token-file", str(tight)), None, None),
                                 (("--token-file", "-"), "wrong-token\n", None),
                                 ((), None, {"GOTUI_TOKEN": "wrong-token"})):
            res = await asyncio.to_thread(join_cli, *args, stdin=stdin, env=env)
            # read, sent, and refused by the host: the token travelled
            assert res.returncode == 1, res.stderr
            assert "wrong or missing token (HTTP 401)" in res.stderr
            assert "wrong-token" not in res.stderr
    finally:
        await h.server.close()
        await h.session.close()


def test_headless_token_dir_writes_private_files_and_prints_no_token(
        tmp_path: Path, target: gofixtures.Target) -> None:
    tokens = tmp_path / "tokens"
    share = subprocess.Popen([GOTUI, "share", str(target.pid), "--headless", "--listen",
                              "127.0.0.1:0", "--token-dir", str(tokens)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    try:
        assert share.stdout is not None
        line = share.stdout.readline()
        info = json.loads(line)
        driver = Path(info["driver_token_file"]).read_text().strip()
        viewer = Path(info["viewer_token_file"]).read_text().strip()
        assert "driver_token" not in info and driver not in line and viewer not in line
        assert tokens.stat().st_mode & 0o777 == 0o700
        for f in tokens.iterdir():
            assert f.stat().st_mode & 0o777 == 0o600, f
        # SIGUSR1: new tokens in the same files, the old ones refused
        share.send_signal(signal.SIGUSR1)
        second = json.loads(share.stdout.readline())
        assert second["driver_token_file"] == info["driver_token_file"]
        new_driver = Path(second["driver_token_file"]).read_text().strip()
        assert new_driver != driver

        async def check() -> None:
            with pytest.raises(GotuiError, match="HTTP 401"):
                await join(info["url"], driver)
            s = await join(info["url"], new_driver)
            await s.close()

        asyncio.run(check())
    finally:
        share.send_signal(signal.SIGTERM)
        _, err = share.communicate(timeout=30)
    assert share.returncode == 0
    assert driver not in err and new_driver not in err and viewer not in err


async def test_host_lists_kicks_and_rotates_and_tokens_never_travel_in_messages() -> None:
    h = await make_host(host_drives=True)
    events: list[str] = []
    for publisher in (h.session, h.server.notices):  # the server's log lines: its own
        publisher.subscribe(lambda n: events.append(json.dumps(str(n))))
    old_driver, old_viewer = h.server.driver_token, h.server.viewer_token
    a = await raw_connect(h.url, old_viewer)
    b = await raw_connect(h.url, old_driver)
    seen: list[Any] = []
    try:
        hello_a = await a.of_type("hello")
        await b.of_type("hello")
        await wait_for(lambda: len(h.server.clients()) == 2, "both listed")
        listed = {c["id"]: c for c in h.server.clients()}
        assert listed[hello_a["you"]]["token"] == "viewer"
        assert all(c["address"].startswith("127.0.0.1:") for c in listed.values())
        h.server.kick(hello_a["you"])
        with pytest.raises(ConnectionClosed):
            for _ in range(1000):
                seen.append(await asyncio.wait_for(a.ws.recv(), 20))
        assert a.ws.close_code == 1008
        assert [c["id"] for c in h.server.clients()] != [hello_a["you"]]
        # rotate: the old tokens let nobody in; the connected stay unless kicked
        h.server.rotate_tokens()
        for old in (old_driver, old_viewer):
            with pytest.raises(InvalidStatus):
                await raw_connect(h.url, old)
        c = await raw_connect(h.url, h.server.viewer_token)
        await c.of_type("hello")
        await c.close()
        await wait_for(lambda: len(h.server.clients()) == 1, "c gone, b still there")
        h.server.rotate_tokens(kick=True)
        with pytest.raises(ConnectionClosed):
            for _ in range(1000):
                seen.append(await asyncio.wait_for(b.ws.recv(), 20))
        await wait_for(lambda: h.server.clients() == [], "everyone dropped")
    finally:
        await a.close()
        await b.close()
        await h.server.close()
        await h.session.close()
    everything = " ".join(events) + " ".join(map(str, seen)) + " ".join(map(str, a.seen + b.seen))
    for token in (old_driver, old_viewer, h.server.driver_token, h.server.viewer_token):
        assert token not in everything
    assert any("removed by the host" in e for e in events)
    assert any("rotated" in e for e in events)


def test_help_screen_suggests_no_token_on_a_command_line() -> None:
    from gotui.tui.sharing import ShareControls

    class Server:
        def info(self) -> dict[str, str]:
            return {"url": "ws://127.0.0.1:9", "driver_token": "D-T", "viewer_token": "V-T"}

    share = ShareControls(object())  # type: ignore[arg-type]
    share.server = Server()  # type: ignore[assignment]
    text = share.join_text()
    assert "--token-file" in text and "GOTUI_TOKEN" in text
    assert "--token " not in text and "GOTUI_TOKEN=" not in text


@pytest.fixture(autouse=True)
def _no_inherited_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOTUI_TOKEN", raising=False)
    os.environ.pop("GOTUI_TOKEN", None)


async def test_host_tui_lists_kicks_and_rotates_with_k() -> None:
    from gotui.tui.app import GotuiApp
    from gotui.tui.screens.share_clients import ShareClientsScreen
    from textual.widgets import DataTable

    from tests.remote.test_tui_joiner import WIDE, until

    h = await make_host(count=3, host_drives=True)
    app = GotuiApp(h.session, refresh_interval=0.2)
    app.share.server = h.server
    old_viewer = h.server.viewer_token
    guest = await join(h.url, old_viewer, user="mallory")
    try:
        async with app.run_test(size=WIDE) as pilot:
            await until(pilot, lambda: len(h.server.clients()) == 1, "the guest")
            await pilot.press("K")  # share.clients
            await until(pilot, lambda: isinstance(app.screen, ShareClientsScreen), "the list")
            table = app.screen.query_one(DataTable)
            row = table.get_row_at(0)
            assert row[1] == '"mallory"' and row[2] == "viewer" and row[3] == "viewer"
            await pilot.press("k")  # share_clients.kick
            await until(pilot, lambda: h.server.clients() == [] and guest.gone, "removed")
            await pilot.press("r")  # share_clients.rotate
            await until(pilot, lambda: h.server.viewer_token != old_viewer, "new tokens")
            with pytest.raises(GotuiError, match="HTTP 401"):
                await join(h.url, old_viewer)
    finally:
        await guest.close()
        await h.server.close()
        await h.session.close()
