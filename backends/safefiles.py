"""Files gotui writes, or reads back and trusts, while it may run as root: caches,
token files, the keymap.

A directory is used only if it is ours: owned by the effective user and writable by
nobody else (anyone who can write it can plant a file or a symlink there). It is opened
once (O_NOFOLLOW) and everything else happens relative to that descriptor, so it cannot
be swapped between the check and the use. Writes go to a fresh O_EXCL file with a random
name in the same directory and are renamed into place (atomic, never through a
planted symlink); reads refuse files another user owns or can write. Content is data
(JSON, TOML): nothing read here is ever unpickled or evaluated.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from gotui.backends.model import GotuiError

MAX_CACHE_BYTES = 16 << 20


def unsafe_reason(st: os.stat_result, what: str) -> str:
    """Why a file or directory with this stat is not ours alone ('' if it is)."""
    if st.st_uid != os.geteuid():
        return f"{what} is owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by other users"
    return ""


def open_private_dir(path: Path, *, create: bool = True) -> int:
    """A descriptor of directory `path` after checking it is ours alone; created with
    mode 0700 (parents as needed) when missing and `create`. Raises GotuiError."""
    if create and not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise GotuiError(f"cannot create directory {path}: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise GotuiError(f"cannot use directory {path}: {exc.strerror}") from None
    why = unsafe_reason(os.fstat(fd), str(path))
    if why:
        os.close(fd)
        raise GotuiError(f"not using directory {path}: {why}")
    return fd


def write_atomic(dir_fd: int, name: str, data: bytes, mode: int = 0o600) -> None:
    """Write `name` in the directory `dir_fd` all at once: a new O_EXCL file with a
    random name, renamed over `name`."""
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def read_owned(dir_fd: int, name: str, max_bytes: int = MAX_CACHE_BYTES) -> bytes | None:
    """The content of regular file `name` if it is ours alone (None otherwise or if
    missing); a symlink is never followed."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=dir_fd)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or unsafe_reason(st, name) or st.st_size > max_bytes:
            return None
        return fh.read(max_bytes + 1)[:max_bytes]


def read_cache_json(directory: Path, name: str) -> Any | None:
    """A JSON value cached in `directory`/`name`, None if absent or not trustworthy."""
    try:
        fd = open_private_dir(directory, create=False)
    except GotuiError:
        return None
    try:
        raw = read_owned(fd, name)
    finally:
        os.close(fd)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def write_cache_json(directory: Path, name: str, value: Any) -> None:
    """Cache a JSON value in `directory`/`name`; silently skipped if the directory is
    not ours alone or cannot be written (a cache is an optimisation)."""
    try:
        fd = open_private_dir(directory)
    except (GotuiError, OSError):
        return
    try:
        write_atomic(fd, name, json.dumps(value, sort_keys=True).encode())
    except OSError:
        pass
    finally:
        os.close(fd)
