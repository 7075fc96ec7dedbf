"""Audit items beyond the issue's list, each reproduced on the code before its fix:
executables another user can change (dlv, gdb), a browser page connecting to a share
(Origin), a stray "[/x]" in a message crashing the TUI, another user's keymap, and the
environment helpers inherit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from gotui.backends.isolation import helper_env
from gotui.backends.notices import ErrorRaised
from gotui.tui.keymap import load_keymap
from websockets.exceptions import InvalidStatus

from tests import gofixtures
from tests.remote.conftest import make_host
from tests.tui.conftest import make_app
from tests.tui.fakes import make_session
from tests.tui.test_app import WIDE, loaded, until

from .conftest import connect_as, run_gotui

NOBODY = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="checks what root may run")


def fake_tool(path: Path, marker: Path) -> None:
    path.write_text(f"#!/bin/sh\necho ran >> {marker}\nexit 1\n")
    path.chmod(0o755)


@root_only
@pytest.mark.parametrize("how", ["world-writable", "owned by nobody"])
def test_root_never_runs_a_dlv_another_user_can_change(
        how: str, tmp_path: Path, target: gofixtures.Target) -> None:
    marker = tmp_path / "MARKER"
    tools = tmp_path / "tools"
    tools.mkdir()
    dlv = tools / "dlv"
    fake_tool(dlv, marker)
    if how == "world-writable":
        dlv.chmod(0o777)
    else:
        os.chown(dlv, NOBODY, NOBODY)
    res = run_gotui("snapshot", str(target.pid), "--source", "delve",
                    env={"GOTUI_DLV": str(dlv)}, timeout=120)
    assert not marker.exists(), "root ran it"
    assert res.returncode == 1 and "refusing to run dlv" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@root_only
def test_root_never_runs_a_gdb_from_a_directory_others_can_write(
        tmp_path: Path, target: gofixtures.Target) -> None:
    marker = tmp_path / "MARKER"
    tools = tmp_path / "tools"
    tools.mkdir()
    tools.chmod(0o777)  # anyone could have put (or swapped) this gdb here
    fake_tool(tools / "gdb", marker)
    res = run_gotui("snapshot", str(target.pid), "--source", "gdb",
                    env={"PATH": f"{tools}:{os.environ['PATH']}"}, timeout=120)
    assert not marker.exists(), "root ran it"
    assert res.returncode == 1 and "refusing to run gdb" in res.stderr, res.stderr


async def test_a_browser_page_cannot_connect_even_with_a_token() -> None:
    h = await make_host()
    try:
        with pytest.raises(InvalidStatus) as exc:
            await connect_as(h.url, h.server.driver_token,
                             headers={"Origin": "https://evil.example"})
        assert exc.value.response.status_code == 403
        assert h.server.clients() == []
    finally:
        await h.server.close()
        await h.session.close()


async def test_markup_in_a_message_never_crashes_the_tui(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    app = make_app(session)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await loaded(pilot, app)
        session.publish(ErrorRaised("dlv: could not find [/x] in [red]"))
        await until(pilot, lambda: any("[/x]" in str(n.message) for n in app._notifications),
                    "the message shown")
        await pilot.pause(0.5)  # rendered
        assert app.is_running and app._exception is None  # noqa: SLF001


@root_only
def test_a_keymap_another_user_can_change_is_not_used(tmp_path: Path) -> None:
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('halt = "q"\n')  # pressing q would halt the target
    os.chown(keymap, NOBODY, NOBODY)
    with pytest.raises(ValueError, match="not using keymap"):
        load_keymap(keymap)
    os.chown(keymap, 0, 0)
    keymap.chmod(keymap.stat().st_mode | stat.S_IWOTH)
    with pytest.raises(ValueError, match="writable by other users"):
        load_keymap(keymap)


def test_helpers_inherit_no_code_loading_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "LD_PRELOAD", "LD_LIBRARY_PATH",
                 "GCONV_PATH", "XDG_CONFIG_HOME", "GOFLAGS", "CC", "GOTUI_TOKEN"):
        monkeypatch.setenv(name, "/tmp/evil")
    monkeypatch.setenv("HOME", "/home/someone-else")
    env = helper_env()
    assert not {k for k in env if k.startswith(("PYTHON", "LD_", "XDG_"))}
    assert not {"GCONV_PATH", "GOFLAGS", "CC", "GOTUI_TOKEN"} & set(env)
    assert env["HOME"] != "/home/someone-else" and env["PATH"] == os.environ["PATH"]
