"""Colour choice: the 16-colour ANSI theme for basic terminals and NO_COLOR."""

from __future__ import annotations

import os

ANSI_THEME = "ansi-dark"
DEFAULT_THEME = "textual-dark"
RICH_TERMS = ("256", "truecolor", "direct", "kitty", "alacritty", "foot", "wezterm", "ghostty")


def terminal_prefers_ansi(env: dict[str, str] | None = None) -> bool:
    """True for NO_COLOR or a terminal that advertises no more than 16 colours."""
    env = dict(os.environ) if env is None else env
    if "NO_COLOR" in env:
        return True
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return False
    term = env.get("TERM", "").lower()
    if not term:
        return False
    return not any(t in term for t in RICH_TERMS)
