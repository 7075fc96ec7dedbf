"""Shared pieces of the security tests: the real gotui command, a real Go target, and
code planted where an attacker could put it (it writes a marker file if it ever runs)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests import gofixtures
from tests.delve.conftest import dlv_path
from tests.remote.conftest import Raw

GOTUI = str(Path(sys.executable).parent / "gotui")  # the installed command, as users run it
requires_dlv = pytest.mark.skipif(dlv_path() is None, reason="dlv is not installed here")


def plant_code(marker: Path) -> str:
    """Python source that appends a line to `marker` when it runs."""
    return f"open({str(marker)!r}, 'a').write('planted code ran as uid %d\\n' % __import__('os').getuid())\n"


def plant_package(root: Path, dotted: str, body: str) -> None:
    """root/a/b/c.py for 'a.b.c' with __init__.py files, c.py holding `body`."""
    parts = dotted.split(".")
    d = root
    for part in parts[:-1]:
        d = d / part
        d.mkdir(parents=True, exist_ok=True)
        (d / "__init__.py").write_text("")
    (d / f"{parts[-1]}.py").write_text(body)


def run_gotui(*args: str, cwd: Path | str = "/", env: dict[str, str] | None = None,
              argv0: list[str] | None = None, timeout: float = 180,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(argv0 or [GOTUI]), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


@contextlib.contextmanager
def headless_share(pid: int, *args: str, preexec_fn: Callable[[], None] | None = None
                   ) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`gotui share PID --headless --listen 127.0.0.1:0 ARGS` run from /, and the JSON
    line it prints; stopped with SIGTERM at the end (killed if still there after 30 s)."""
    proc = subprocess.Popen([GOTUI, "share", str(pid), "--headless", "--listen",
                             "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd="/", preexec_fn=preexec_fn)
    try:
        assert proc.stdout is not None
        yield proc, json.loads(proc.stdout.readline())
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, as a user's kill would; SIGKILL if it is still there after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def target(basic_exe: Path) -> Iterator[gofixtures.Target]:
    with gofixtures.run(basic_exe) as t:
        yield t


async def connect_as(url: str, token: str | None, *, headers: dict[str, str] | None = None,
                     **kwargs: Any) -> Raw:
    """A protocol-level client (tests/remote/conftest.py's Raw) with extra headers."""
    all_headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    all_headers.update(headers or {})
    ws = await ws_connect(url, additional_headers=all_headers, proxy=None, compression=None,
                          max_size=None, **kwargs)
    return Raw(ws)
