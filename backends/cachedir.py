"""Where gotui keeps what it makes for the user: $XDG_CACHE_HOME/gotui (~/.cache/gotui)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gotui.backends.isolation import own_home


def cache_root() -> Path:
    """The user's cache base directory (not created here). A relative $XDG_CACHE_HOME is
    ignored, as the XDG base directory spec asks. As root, $XDG_CACHE_HOME counts only
    if it is root's (under `sudo -E` it may still name a user's directory, which gotui
    would refuse to use): else root's own ~/.cache."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.geteuid() == 0:
        return Path(xdg) if os.path.isabs(xdg) and _roots(Path(xdg)) else \
            Path(own_home()) / ".cache"
    return Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"


def _roots(path: Path) -> bool:
    """The path, or its nearest existing ancestor, is root's and only root can write it."""
    for p in (path, *path.parents):
        try:
            st = os.lstat(p)
        except OSError:
            continue
        return st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) \
            and stat.S_ISDIR(st.st_mode)
    return False


def user_cache_dir() -> Path:
    """gotui's cache directory (not created here)."""
    return cache_root() / "gotui"
