"""The guard: a small process between gotui and dlv that releases the target safely
when gotui dies.

Without --accept-multiclient, dlv itself halts and detaches when its client goes
away, but its halt (kill(pid, SIGTRAP)) races with breakpoint stops: measured with a
breakpoint hit every ms, SIGKILL of the client killed the target in 4 of 8 runs
("SIGTRAP: trace trap" after the detach). So gotui does not talk to dlv directly:

    gotui --unix socket--> guard --unix socket--> dlv attach <pid> --headless

The guard relays request and reply lines unchanged (it reads only the ids, so a
multi-megabyte ListGoroutines reply is not decoded twice) and follows whether a
continue is in flight. Its own calls use ids of another form ("guard<n>"). When
gotui's connection closes without a Detach (gotui crashed, was SIGKILLed, lost its
terminal), or the guard gets SIGTERM/SIGINT/SIGHUP, or gotui dies before it connected
(the guard is reparented), the guard releases the target the safe way (release.py)
and exits. If dlv dies instead, the guard puts back the int3s
Delve left in the code (rescue.py) and exits. Started in its own session, so a signal
for gotui's process group does not reach it.

Run as: python -I -m gotui.backends.delve.guard --pid PID --dir DIR [--no-check-go-version]
(isolated: see backends/isolation.py)
It prints one line: "GUARD listening at: unix:PATH" or "GUARD error: MESSAGE", and
before exiting after dlv failed, "GUARD exit: MESSAGE".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile

from gotui.backends.delve.process import DlvProcess, release_stopped_target
from gotui.backends.delve.release import code_addrs, release
from gotui.backends.delve.rescue import restore_code
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.isolation import SAFE_CWD, helper_env, python_helper_argv
from gotui.backends.model import GotuiError

LISTEN_PREFIX = "GUARD listening at:"
ERROR_PREFIX = "GUARD error:"
EXIT_PREFIX = "GUARD exit:"
PARENT_POLL_S = 0.2
_BREAKPOINT_METHODS = frozenset({"CreateBreakpoint", "ClearBreakpoint", "AmendBreakpoint",
                                 "ToggleBreakpoint", "Restart"})


class Guard:
    def __init__(self, pid: int, dlv: DlvProcess, rpc: DelveRPC) -> None:
        self.pid, self.dlv, self.rpc = pid, dlv, rpc
        self.detached = False  # the client asked Delve to detach
        self.done = asyncio.Event()
        self.addrs: list[int] = []
        self._client: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._serving: asyncio.Task[None] | None = None
        rpc.on_lost = self._dlv_lost

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._client is not None:  # one client only, like dlv without multiclient
            writer.close()
            return
        self._client = writer
        self._serving = asyncio.current_task()
        self.rpc.on_relayed_reply = self._reply
        try:
            while line := await reader.readline():
                self.rpc.relay(line, json.loads(line))
        except (OSError, ValueError, GotuiError, asyncio.CancelledError):
            # Cancelled by finish(): the connection handler ends quietly, no traceback.
            pass
        finally:
            self.done.set()

    def _reply(self, line: bytes, method: str) -> None:
        if self._client is None or self._client.is_closing():
            return
        self._client.write(line)
        if method == "Detach" and b'"error":null' in line:
            self.detached = True
        elif method in _BREAKPOINT_METHODS:
            task = asyncio.ensure_future(self._track_addrs())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _track_addrs(self) -> None:
        with contextlib.suppress(GotuiError):
            self.addrs = await code_addrs(self.rpc)

    def _dlv_lost(self) -> None:
        if not self.detached:
            restore_code(self.pid, self.addrs)
            release_stopped_target(self.pid)
        self.done.set()

    async def finish(self) -> None:
        """Release the target (unless the client detached), stop dlv, drop the client."""
        if not self.detached and not self.rpc.closed:
            await release(self.rpc, self.pid)
        await self.rpc.close()
        await self.dlv.stop()
        if self._client is not None:
            self._client.close()
        if self._serving is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._serving, 5)


async def watch_parent(parent: int, done: asyncio.Event) -> None:
    """Set `done` once gotui (our parent) is gone. Its connection dropping says so too,
    but gotui may die (SIGKILL) while the attach runs, before it ever connects: nothing
    would then drop and the guard would hold the target forever."""
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_POLL_S)
    done.set()


async def run_guard(pid: int, sockdir: str, check_go_version: bool) -> int:
    parent = os.getppid()
    try:
        dlv = await DlvProcess.spawn(pid, check_go_version=check_go_version)
    except GotuiError as exc:
        print(f"{ERROR_PREFIX} {exc}", flush=True)
        return 1
    try:
        rpc = await DelveRPC.connect(dlv.address, id_prefix="guard")
    except GotuiError:
        print(f"{ERROR_PREFIX} {await dlv.failure()}", flush=True)
        await dlv.stop()
        return 1
    guard = Guard(pid, dlv, rpc)
    try:
        guard.addrs = await code_addrs(rpc)  # answers once the attach is done
    except GotuiError:
        print(f"{ERROR_PREFIX} {await dlv.failure()}", flush=True)
        await guard.finish()
        return 1
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, guard.done.set)
    orphaned = loop.create_task(watch_parent(parent, guard.done))
    path = os.path.join(sockdir, "guard.sock")
    server = await asyncio.start_unix_server(guard.serve, path=path, limit=1 << 30)
    os.chmod(path, 0o600)
    with contextlib.suppress(OSError):  # gotui gone already: watch_parent sees it
        print(f"{LISTEN_PREFIX} unix:{path}", flush=True)
    await guard.done.wait()
    orphaned.cancel()
    server.close()
    failed = rpc.closed and not guard.detached
    await guard.finish()
    if failed:
        with contextlib.suppress(OSError):  # gotui may be gone: nobody reads this
            print(f"{EXIT_PREFIX} {await dlv.failure(timeout=1)}", flush=True)
    return 0


class GuardProcess:
    """gotui's handle on a guard child. Use `await GuardProcess.spawn(pid)`."""

    def __init__(self, proc: asyncio.subprocess.Process, pid: int, sockdir: str,
                 address: str) -> None:
        self.proc, self.target_pid, self.address = proc, pid, address
        self._sockdir = sockdir

    @classmethod
    async def spawn(cls, pid: int, *, check_go_version: bool = True,
                    timeout: float = 60.0) -> GuardProcess:
        sockdir = tempfile.mkdtemp(prefix="gotui-guard-")
        args = python_helper_argv("gotui.backends.delve.guard", "--pid", str(pid),
                                  "--dir", sockdir)
        if not check_go_version:
            args.append("--no-check-go-version")
        # isolated: -I, cwd "/", no PYTHONPATH (the cwd once shadowed the guard module)
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,  # never write over the TUI
            env=helper_env(), cwd=SAFE_CWD, start_new_session=True)
        assert proc.stdout is not None
        message = "guard exited without a message"
        try:
            async with asyncio.timeout(timeout):
                while raw := await proc.stdout.readline():
                    line = raw.decode(errors="replace").strip()
                    if line.startswith(LISTEN_PREFIX):
                        return cls(proc, pid, sockdir, line.removeprefix(LISTEN_PREFIX).strip())
                    if line.startswith(ERROR_PREFIX):
                        message = line.removeprefix(ERROR_PREFIX).strip()
                        break
        except TimeoutError:
            message = f"Delve did not start within {timeout:.0f}s"
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        await proc.wait()
        shutil.rmtree(sockdir, ignore_errors=True)
        raise GotuiError(message)

    async def failure(self, timeout: float = 5.0) -> str:
        """Why the guard (dlv) went away, from its last line."""
        assert self.proc.stdout is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while raw := await self.proc.stdout.readline():
                    line = raw.decode(errors="replace").strip()
                    if line.startswith(EXIT_PREFIX):
                        return line.removeprefix(EXIT_PREFIX).strip()
        return f"lost Delve while attaching to pid {self.target_pid}"

    async def stop(self, timeout: float = 30.0) -> None:
        """Wait for the guard to finish (it releases the target), force it if stuck."""
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        shutil.rmtree(self._sockdir, ignore_errors=True)
        release_stopped_target(self.target_pid)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gotui.backends.delve.guard")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--dir", required=True, help="private directory for the socket")
    ap.add_argument("--no-check-go-version", action="store_true")
    opts = ap.parse_args(argv)
    try:
        return asyncio.run(run_guard(opts.pid, opts.dir, not opts.no_check_go_version))
    finally:
        shutil.rmtree(opts.dir, ignore_errors=True)  # gotui may not be there to do it


if __name__ == "__main__":
    sys.exit(main())
