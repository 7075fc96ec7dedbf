"""Run a command in a real terminal (a detached tmux pane) and read its screen.

Each TmuxSession has its own tmux server (private socket), so tests never touch a
user's tmux. The pane stays after the command exits (remain-on-exit), so the last
screen and the exit status can still be read.

    with TmuxSession([".venv/bin/gotui", "attach", str(pid)]) as tui:
        tui.wait_for("RUNNING")
        tui.send_keys("h")
        screen = tui.wait_for("HALTED")
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from types import TracebackType

import psutil

TMUX_CONFIG = """\
set -g status off
set -g remain-on-exit on
set -g escape-time 0
"""


class TmuxError(AssertionError):
    """Raised when the screen does not reach the expected state; carries the screen."""


class TmuxSession:
    def __init__(self, command: list[str], *, width: int = 80, height: int = 24,
                 term: str = "xterm-256color", env: dict[str, str] | None = None,
                 cwd: str | Path | None = None) -> None:
        self.command = command
        self.width = width
        self.height = height
        self.term = term
        self.env = env or {}
        self.cwd = str(cwd) if cwd else os.getcwd()
        self.name = f"gotui-test-{uuid.uuid4().hex[:8]}"
        self._tmpdir = tempfile.TemporaryDirectory(prefix="gotui-tmux-")
        self.socket = str(Path(self._tmpdir.name) / "sock")
        self._config = Path(self._tmpdir.name) / "tmux.conf"
        self._config.write_text(TMUX_CONFIG)
        self._status = Path(self._tmpdir.name) / "status"
        self._pid: int | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> TmuxSession:
        assignments = [f"{k}={v}" for k, v in {"TERM": self.term, **self.env}.items()]
        # The pane's shell records the exit status itself: tmux's #{pane_dead_status}
        # is sometimes left empty (tmux 3.3a).
        shell_cmd = (f"env {shlex.join([*assignments, *self.command])}; "
                     f"echo $? >{shlex.quote(str(self._status))}")
        self._tmux("-f", str(self._config), "new-session", "-d", "-s", self.name,
                   "-x", str(self.width), "-y", str(self.height), "-c", self.cwd, shell_cmd)
        return self

    def kill(self) -> None:
        """Close the terminal. A command that outlives it (it should exit on SIGHUP) is
        killed after 5 s, with a warning, so no test leaves processes behind."""
        command = self._command_process()
        self.close()
        self._tmpdir.cleanup()
        if command is None or _gone(command, timeout=5):
            return
        warnings.warn(f"{shlex.join(self.command)} (pid {command.pid}) outlived its "
                      f"terminal; killed it", stacklevel=2)
        with contextlib.suppress(psutil.Error):
            for proc in [command, *command.children(recursive=True)]:
                proc.kill()

    def close(self) -> None:
        """Close the terminal only (what a dropped SSH connection does to a program)."""
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True,
                       timeout=10, check=False)

    def _command_process(self) -> psutil.Process | None:
        try:
            if self._pid is None and self.exited():
                return None
            return psutil.Process(self.pid)
        except (TmuxError, psutil.Error):
            return None

    def __enter__(self) -> TmuxSession:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill()

    # ------------------------------------------------------------ input

    def send_keys(self, *keys: str) -> None:
        """Send tmux key names: "q", "Enter", "C-c", "Escape", "Down", "F5"..."""
        self._tmux("send-keys", "-t", self.name, *keys)

    def send_text(self, text: str) -> None:
        """Type text literally (no key-name lookup)."""
        self._tmux("send-keys", "-t", self.name, "-l", text)

    # ------------------------------------------------------------ output

    def capture(self, *, escapes: bool = False) -> str:
        """The visible screen as text; with escapes=True including SGR colour codes."""
        args = ["capture-pane", "-p", "-t", self.name]
        if escapes:
            args.append("-e")
        if not self.exited():
            return self._tmux(*args)
        # tmux scrolls the screen up one line to write "Pane is dead (...)": take that
        # line back from the history and leave the notice out.
        lines = self._tmux(*args, "-S", "-1").splitlines(keepends=True)
        return "".join(ln for ln in lines if not ln.startswith("Pane is dead"))

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 20.0,
                 interval: float = 0.1) -> str:
        """Poll the screen until `pattern` (plain text or regex) shows; return the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            dead = self.exited()  # read before the screen: a last print is not missed
            screen = self.capture()
            if _matches(pattern, screen):
                return screen
            if dead:
                raise TmuxError(f"command exited before {pattern!r} showed; "
                                f"screen:\n{screen.rstrip()}")
            if time.monotonic() >= deadline:
                raise TmuxError(f"{pattern!r} not on screen after {timeout} s; "
                                f"screen:\n{screen.rstrip()}")
            time.sleep(interval)

    def wait_gone(self, pattern: str | re.Pattern[str], timeout: float = 20.0) -> str:
        """Poll until `pattern` is no longer on screen; return the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if not _matches(pattern, screen):
                return screen
            if time.monotonic() >= deadline:
                raise TmuxError(f"{pattern!r} still on screen after {timeout} s; "
                                f"screen:\n{screen.rstrip()}")
            time.sleep(0.1)

    # ------------------------------------------------------------ the process

    @property
    def pid(self) -> int:
        """pid of the command (the child of the pane's shell)."""
        if self._pid is None:
            shell = psutil.Process(int(self.display("#{pane_pid}")))
            deadline = time.monotonic() + 10
            while not (children := shell.children()):
                if time.monotonic() >= deadline:
                    raise TmuxError(f"no command under the pane's shell {shell.pid}")
                time.sleep(0.02)
            self._pid = children[0].pid
        return self._pid

    def exited(self) -> bool:
        return self.display("#{pane_dead}") == "1"

    def exit_status(self) -> int | None:
        """Exit status once the command has exited (128+N if killed by signal N); None
        while it runs, or if the shell died before recording it."""
        if not self.exited():
            return None
        text = self._status.read_text().strip() if self._status.exists() else ""
        return int(text) if text else None

    def wait_exit(self, timeout: float = 20.0) -> int | None:
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() >= deadline:
                raise TmuxError(f"command still running after {timeout} s; "
                                f"screen:\n{self.capture()}")
            time.sleep(0.1)
        return self.exit_status()

    # ------------------------------------------------------------ plumbing

    def display(self, fmt: str) -> str:
        """A tmux format about the pane, e.g. "#{alternate_on}", "#{cursor_flag}"."""
        return self._tmux("display-message", "-p", "-t", self.name, fmt).strip()

    def _tmux(self, *args: str) -> str:
        res = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                             text=True, timeout=10, check=False)
        if res.returncode != 0:
            raise TmuxError(f"tmux {args[0]} failed: {res.stderr.strip()}")
        return res.stdout


def _gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait until proc has exited; a zombie counts (its reaper may be slow: not ours)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def _matches(pattern: str | re.Pattern[str], screen: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(screen) is not None
    return pattern in screen
