"""gotui's own log: what went wrong inside gotui that the user did not need to see at
once (a broken session listener, say), kept for a bug report.

Logging must never write over the TUI, so nothing goes to stderr: once the CLI calls
`log_to_file()`, the `gotui` logger writes to a private file (0600, in a 0700 directory
under the user's cache dir), opened at the first record only; otherwise nowhere.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOG = logging.getLogger("gotui")
LOG.addHandler(logging.NullHandler())
LOG.propagate = False  # never reaches the root logger's last-resort stderr handler
MAX_BYTES = 1 << 20


def log_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gotui" / "gotui.log"


class _FirstUseFileHandler(logging.Handler):
    """Opens the log file at the first record: commands that log nothing write nothing.
    If it cannot be opened, records are dropped: never worth failing a command over."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.path = path
        self._file: logging.Handler | None = None
        self._failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._file is None and not self._failed:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW,
                             0o600)
                os.close(fd)
                self._file = logging.handlers.RotatingFileHandler(
                    self.path, maxBytes=MAX_BYTES, backupCount=1)
                self._file.setFormatter(logging.Formatter(
                    "%(asctime)s %(levelname)s %(name)s: %(message)s"))
            except OSError:
                self._failed = True
        if self._file is not None:
            self._file.emit(record)


def log_to_file(path: Path | None = None) -> None:
    """Send gotui's log to `path` (default: log_path())."""
    LOG.addHandler(_FirstUseFileHandler(path or log_path()))
    LOG.setLevel(logging.INFO)
