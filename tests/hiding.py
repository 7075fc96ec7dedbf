"""Run a command as if some paths were not installed: in a private mount namespace
(unshare -m, root only) where each path is covered by an empty read-only tmpfs. The
rest of the machine, and every other process, sees nothing of it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path


def hiding(paths: Sequence[Path | str], cmd: Sequence[str]) -> list[str]:
    """`cmd` with each directory in `paths` empty."""
    mounts = "".join(f"mount -t tmpfs -o ro,size=4k gotui-hidden {shlex.quote(str(p))} && "
                     for p in paths)
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", f'{mounts}exec "$@"', "sh", *cmd]
