"""Audit: read_source opened, as root, any path the target's debug info names.

A target's owner controls the file names in its binary and the files at those paths:
its main.go replaced by a symlink made root show /etc/shadow, or a root-only file, in
the source pane, and hand it to any viewer of a shared session. Real target (run as
nobody), real live reader, real websockets."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from gotui.backends.live.reader import LiveReader
from gotui.backends.remote.server import ShareServer
from gotui.backends.session import Session

from tests import gofixtures
from tests.remote.conftest import raw_connect

NOBODY = 65534
SECRET = "root-only secret: hunter2\n"

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runs as nobody)")]


@pytest.fixture
def nobody_target() -> Iterator[tuple[gofixtures.Target, Path, Path]]:
    """The basic fixture built from a copy of its source and run as nobody; yields
    (target, its main.go, a root-only secret.go)."""
    gofixtures.need_toolchain("go1.26")
    top = Path(tempfile.mkdtemp(prefix="gotui-src-"))
    top.chmod(0o755)
    try:
        src = top / "src"
        shutil.copytree(gofixtures.FIXTURES / "basic", src)
        go, extra = gofixtures.TOOLCHAINS["go1.26"]
        exe = top / "basic"
        subprocess.run([go, "build", "-gcflags=all=-N -l", "-o", str(exe), "."], cwd=src,
                       env={**os.environ, **extra, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
                       check=True, capture_output=True, timeout=600)
        secret = top / "secret.go"
        secret.write_text(SECRET)
        secret.chmod(0o600)
        proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True, cwd="/",
                                user=NOBODY, group=NOBODY, start_new_session=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "READY" in line, line
        try:
            yield gofixtures.Target(proc, exe, line), src / "main.go", secret
        finally:
            proc.kill()
            proc.wait()
    finally:
        shutil.rmtree(top, ignore_errors=True)


def point(link: Path, at: Path | str) -> None:
    link.unlink()
    link.symlink_to(at)


@pytest.fixture
async def session(nobody_target: tuple[gofixtures.Target, Path, Path]
                  ) -> AsyncIterator[Session]:
    target = nobody_target[0]
    live = LiveReader(target.pid)
    s = Session(live.info, live=live)
    await s.start()
    yield s
    await s.close()


async def test_source_pane_never_shows_files_the_targets_owner_could_not_read(
        nobody_target: tuple[gofixtures.Target, Path, Path], session: Session) -> None:
    _, main_go, secret = nobody_target
    text = main_go.read_text()
    assert session.read_source(str(main_go))[:3] == text.splitlines()[:3]  # legit: shown
    point(main_go, secret)
    session._source_cache.clear()  # noqa: SLF001 - a fresh read, as after a restart
    assert session.read_source(str(main_go)) == []
    point(main_go, "/etc/shadow")
    session._source_cache.clear()  # noqa: SLF001
    assert session.read_source(str(main_go)) == []
    assert session.read_source("/proc/self/environ.go") == []
    runtime_file = next(iter(Path(os.path.realpath(shutil.which("go") or "/usr/local/go"))
                             .parent.parent.glob("src/runtime/proc.go")), None)
    if runtime_file is not None:  # world-readable toolchain sources stay readable
        assert session.read_source(str(runtime_file))


async def test_a_viewer_never_reads_a_file_behind_a_symlink(
        nobody_target: tuple[gofixtures.Target, Path, Path], session: Session) -> None:
    _, main_go, secret = nobody_target
    server = ShareServer(session, host_drives=True, snapshot_interval=0.2)
    await server.start()
    viewer = await raw_connect(server.info()["url"], server.viewer_token)
    try:
        await viewer.of_type("hello")
        snap = await viewer.of_type("snapshot")
        gid = next(g["id"] for g in snap["snapshot"]["goroutines"]
                   if g["start"]["function"] == "main.ticker")

        async def call(name: str, msg_id: str, **args: Any) -> dict[str, Any]:
            await viewer.send({"type": "command", "name": name, "args": args, "id": msg_id})
            return await viewer.next(lambda m: m.get("id") == msg_id)

        stack = await call("stack", "s", goid=gid)
        assert any(f["file"] == str(main_go) for f in stack["value"]), stack
        for i, target in enumerate((secret, Path("/etc/shadow"))):
            point(main_go, target)
            session._source_cache.clear()  # noqa: SLF001 - not the host's earlier read
            reply = await call("read_source", f"r{i}", path=str(main_go))
            leaked = "\n".join(reply.get("value") or [])
            assert "hunter2" not in leaked and "root:" not in leaked, reply
    finally:
        await viewer.close()
        await server.close()
