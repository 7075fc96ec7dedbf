"""Screens built once for the session and reopened (help, the breakpoint form).

Building a screen costs its compose and a restyle of every widget in it; Textual also
restyles a screen on every push, which throws away each widget's rendered lines. A
reopened screen only needs that when the app's CSS (a theme) changed since it was last
styled: then it paints from cache (help: 29 ms in-process to open before, 4 after)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual import events
from textual.app import App
from textual.screen import Screen


class Reopened(Screen[Any]):
    _styled_with = -1  # the app's CSS generation the screen was last styled for

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual calls every class's own handler, subclass first: Screen's, which does
        # the restyle, runs after this one and reads the event as changed here
        styled, self._styled_with = self._styled_with, self.app._css_update_count
        if styled == self._styled_with:
            event.refresh_styles = False


ScreenT = TypeVar("ScreenT", bound=Reopened)


def installed(app: App[Any], name: str, build: Callable[[], ScreenT]) -> ScreenT:
    """The screen installed as `name` (push it by that name: popped, it stays built),
    built and installed the first time."""
    if not app.is_screen_installed(name):
        app.install_screen(build(), name)
    return app.get_screen(name)  # type: ignore[return-value]
