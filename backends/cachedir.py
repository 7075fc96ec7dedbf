"""Where gotui keeps what it makes for the user: $XDG_CACHE_HOME/gotui (~/.cache/gotui)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """gotui's cache directory (not created here). A relative $XDG_CACHE_HOME is ignored,
    as the XDG base directory spec asks."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "gotui"
