"""Which files gotui shows as source. The target's debug info names them, and gotui
runs as root: a binary that names /etc/shadow, or a main.go later replaced by a symlink
to a root-only file, must not make gotui show that file (nor hand it to a viewer).

A source file is shown only if it is:
- an absolute path with a source suffix, and so is the file it resolves to;
- not under /proc, /sys or /dev;
- a regular file (no FIFO that blocks the reader, no device) of at most
  MAX_SOURCE_BYTES;
- when gotui runs as root: readable by everyone, or owned by the target's own user
  (nothing its owner could not read anyway).
Checks that matter are made on the opened descriptor, so a swap after the check
changes nothing.
"""

from __future__ import annotations

import os
import stat

SOURCE_SUFFIXES = (".go", ".s", ".c", ".h", ".cc", ".cpp", ".m")
MAX_SOURCE_BYTES = 8 << 20
_SYSTEM_ROOTS = ("/proc/", "/sys/", "/dev/")


def showable_path(path: str) -> bool:
    """Cheap checks on the name alone (the rest needs the file)."""
    return (os.path.isabs(path) and path.endswith(SOURCE_SUFFIXES)
            and not path.startswith(_SYSTEM_ROOTS))


def read_source_file(path: str, owner_uid: int | None = None) -> list[str]:
    """The lines of source file `path`, or [] if it is not one gotui may show (see the
    module docstring). `owner_uid`: the uid the target runs as (None: unknown)."""
    if not showable_path(path):
        return []
    real = os.path.realpath(path)
    if not showable_path(real):
        return []
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(real, flags)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SOURCE_BYTES:
            return []
        if os.geteuid() == 0 and not st.st_mode & stat.S_IROTH and st.st_uid != owner_uid:
            return []
        data = fh.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        return []
    return data.decode("utf-8", errors="replace").splitlines()


def process_uid(pid: int) -> int | None:
    """The real uid a process runs as (None if unknown)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None
