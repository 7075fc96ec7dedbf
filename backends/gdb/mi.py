"""A blocking gdb/MI channel (pygdbmi) with token-matched commands.

Everything here blocks: GdbBackend calls it through asyncio.to_thread. One command at
a time holds `lock`; `interrupt()` deliberately bypasses it so a halt can reach gdb
while another thread waits for the target to stop.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.isolation import SAFE_CWD, find_executable, helper_env, on_path
from gotui.backends.model import GotuiError
from pygdbmi.gdbcontroller import GdbController
from pygdbmi.IoManager import IoManager

PR_SET_PDEATHSIG = 1


def find_gdb() -> str:
    """The gdb to run: $PATH's, checked like every executable gotui runs as root."""
    return find_executable("gdb", [on_path("gdb")])


def _die_with_parent() -> None:
    """In the gdb child: SIGTERM it when the Python process dies (gdb then detaches,
    see tests/gdb/test_exit_paths.py), and keep it out of the terminal's process group
    so a Ctrl-C meant for gotui does not interrupt the target."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class _Controller(GdbController):
    def spawn_new_gdb_subprocess(self) -> int:
        self.gdb_process = subprocess.Popen(
            self.command, shell=False, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
            stderr=subprocess.PIPE, bufsize=0, start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            cwd=SAFE_CWD, env=helper_env(),  # isolated: backends/isolation.py
        )
        assert self.gdb_process.stdin is not None and self.gdb_process.stdout is not None
        self.io_manager = IoManager(self.gdb_process.stdin, self.gdb_process.stdout,
                                    self.gdb_process.stderr,
                                    self.time_to_check_for_additional_output_sec)
        return self.gdb_process.pid


@dataclass
class MIResult:
    cls: str  # done | running | connected | error | exit
    payload: Any = None
    console: str = ""  # text gdb printed on its console stream while running it

    @property
    def msg(self) -> str:
        if isinstance(self.payload, dict):
            return str(self.payload.get("msg", ""))
        return ""


@dataclass
class StopRecord:
    reason: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class GdbMI:
    def __init__(self, args: list[str]) -> None:
        self._ctl = _Controller([find_gdb(), "--nx", "--quiet", "--interpreter=mi3", *args],
                                time_to_check_for_additional_output_sec=0.05)
        self.lock = threading.Lock()
        self._tokens = itertools.count(1)
        self._stops: list[StopRecord] = []
        self.running = False
        self.exited = False
        self.exit_code: int | None = None

    @property
    def pid(self) -> int:
        proc = self._ctl.gdb_process
        return proc.pid if proc else 0

    def alive(self) -> bool:
        proc = self._ctl.gdb_process
        return proc is not None and proc.poll() is None

    # ---------------------------------------------------------------- records

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        if not self.alive():
            raise GotuiError("gdb exited unexpectedly")
        try:
            records = self._ctl.get_gdb_response(timeout_sec=timeout,
                                                 raise_error_on_timeout=False)
        except (OSError, ValueError):
            raise GotuiError("lost the connection to gdb") from None
        for rec in records:
            self._note(rec)
        return records

    def _note(self, rec: dict[str, Any]) -> None:
        """Track run state from records in arrival order, whoever happens to read them
        (a *stopped can arrive in the same read as the ^running before it)."""
        if rec.get("type") == "result" and rec.get("message") == "running":
            self.running = True
        if rec.get("type") != "notify":
            return
        message = rec.get("message")
        payload = rec.get("payload") or {}
        if message == "running":
            self.running = True
        elif message == "stopped":
            self.running = False
            reason = str(payload.get("reason", ""))
            if reason.startswith("exited"):
                self.exited = True
                code = payload.get("exit-code")
                self.exit_code = int(code, 8) if code else 0
            self._stops.append(StopRecord(reason, payload))

    # ---------------------------------------------------------------- commands

    def command(self, cmd: str, timeout: float = 30.0) -> MIResult:
        with self.lock:
            return self._command(cmd, timeout)

    def _command(self, cmd: str, timeout: float) -> MIResult:
        token = next(self._tokens)
        try:
            self._ctl.write(f"{token}{cmd}", read_response=False)
        except (OSError, ValueError):
            raise GotuiError("lost the connection to gdb") from None
        console: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rec in self._read(min(0.5, max(0.05, deadline - time.monotonic()))):
                if rec.get("type") == "console" and rec.get("payload"):
                    console.append(str(rec["payload"]))
                elif rec.get("type") == "result" and rec.get("token") == token:
                    return MIResult(str(rec.get("message")), rec.get("payload"),
                                    "".join(console))
        raise GotuiError(f"gdb did not answer {cmd.split()[0]} within {timeout:.0f} s")

    def check(self, cmd: str, timeout: float = 30.0) -> MIResult:
        res = self.command(cmd, timeout)
        if res.cls == "error":
            raise GotuiError(f"gdb: {res.msg or cmd}")
        return res

    def console(self, cli: str, timeout: float = 60.0) -> str:
        """Run a CLI command (e.g. `python ...`) and return what it printed."""
        quoted = cli.replace("\\", "\\\\").replace('"', '\\"')
        return self.check(f'-interpreter-exec console "{quoted}"', timeout).console

    def take_stop(self) -> StopRecord | None:
        return self._stops.pop(0) if self._stops else None

    def clear_stops(self) -> None:
        self._stops.clear()

    def wait_stopped(self, timeout: float | None = None) -> StopRecord:
        """Block until gdb reports *stopped (the lock is held: nobody else reads)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while True:
                stop = self.take_stop()
                if stop is not None and not self.running:
                    return stop
                if deadline is not None and time.monotonic() > deadline:
                    raise GotuiError("the target did not stop in time")
                self._read(0.2)

    def interrupt(self) -> None:
        """-exec-interrupt without the lock (a cont() may be waiting on it)."""
        try:
            self._ctl.write(f"{next(self._tokens)}-exec-interrupt", read_response=False)
        except (OSError, ValueError):
            raise GotuiError("lost the connection to gdb") from None

    def close(self) -> None:
        proc = self._ctl.gdb_process
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._ctl.write("-gdb-exit", read_response=False)
                proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            proc.terminate()  # gdb detaches from attached processes on SIGTERM
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._ctl.gdb_process = None
