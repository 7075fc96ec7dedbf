"""Who may join a shared session, and as what: the driver and viewer bearer tokens.

Tokens travel only in `Authorization: Bearer` (never in a URL or argv), are compared in
constant time, can be rotated, and on the joiner's side come from a file, stdin or
$GOTUI_TOKEN. The host can write them to 0600 files for service managers that log
stdout. They never appear in an error message, an event or a log line.
"""

from __future__ import annotations

import getpass
import hmac
import os
import secrets
import stat
import sys
from pathlib import Path

from gotui.backends.model import GotuiError, UsageError
from gotui.backends.safefiles import open_private_dir, write_atomic
from websockets.datastructures import Headers

DRIVER = "driver"
VIEWER = "viewer"
TOKEN_BYTES = 32
MAX_TOKEN_FILE = 4096
TOKEN_FILES = {DRIVER: "driver.token", VIEWER: "viewer.token"}
JOIN_HINT = "use --token-file FILE, --token-file - (stdin) or $GOTUI_TOKEN"


class Tokens:
    """The two tokens of one shared session."""

    def __init__(self) -> None:
        self.driver = ""
        self.viewer = ""
        self.rotate()

    def rotate(self) -> None:
        """New tokens: the old ones let nobody in from now on."""
        self.driver = secrets.token_urlsafe(TOKEN_BYTES)
        self.viewer = secrets.token_urlsafe(TOKEN_BYTES)

    def kind(self, headers: Headers) -> str | None:
        """DRIVER or VIEWER for the request's one Authorization header, else None."""
        values = headers.get_all("Authorization")
        if len(values) != 1 or values[0][:7].lower() != "bearer ":
            return None
        token = values[0][7:].strip().encode("utf-8", "replace")
        # both comparisons always run: the time taken says nothing about the token
        is_driver = hmac.compare_digest(token, self.driver.encode())
        is_viewer = hmac.compare_digest(token, self.viewer.encode())
        return DRIVER if is_driver else VIEWER if is_viewer else None

    def write_files(self, directory: str | Path) -> dict[str, str]:
        """Write driver.token and viewer.token (mode 0600) into `directory` (created
        0700; refused unless it is ours alone); returns {kind: path}."""
        path = Path(directory).absolute()
        fd = open_private_dir(path)
        try:
            for kind, name in TOKEN_FILES.items():
                write_atomic(fd, name, (getattr(self, kind) + "\n").encode())
        except OSError as exc:
            raise GotuiError(f"cannot write the token files in {path}: {exc.strerror}") \
                from None
        finally:
            os.close(fd)
        return {kind: str(path / name) for kind, name in TOKEN_FILES.items()}


def read_token(token_file: str | None, environ: dict[str, str] | None = None) -> str:
    """The joiner's token: from `token_file` ("-" is stdin), else $GOTUI_TOKEN.
    A file others can read or write is refused (like ssh's keys). UsageError."""
    env = os.environ if environ is None else environ
    if token_file is None:
        token = env.get("GOTUI_TOKEN", "").strip()
        if not token:
            raise UsageError(f"no token: {JOIN_HINT}")
        return token
    if token_file == "-":
        if sys.stdin.isatty():  # typed or pasted: not echoed
            text = getpass.getpass("gotui token: ")
        else:
            text = sys.stdin.readline(MAX_TOKEN_FILE)
    else:
        try:
            fd = os.open(token_file, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise UsageError(f"cannot read token file {token_file}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
                raise UsageError(f"token file {token_file} is accessible by other users: "
                                 f"chmod 600 {token_file}")
            text = fh.read(MAX_TOKEN_FILE).decode("utf-8", "replace")
    token = text.strip()
    if not token:
        raise UsageError(f"token file {token_file} is empty")
    return token
