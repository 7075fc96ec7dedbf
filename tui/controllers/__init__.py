"""The app's controllers: plain classes that own one concern of GotuiApp (the live
refresh, breakpoints, the selected goroutine's stack and source) and drive the
widgets of the main screen through it. They run their session calls as the app's
workers, so the event loop never waits on a target."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.css.query import NoMatches

T = TypeVar("T")


def widgets_may_be_gone(method: Callable[..., Awaitable[T]]
                        ) -> Callable[..., Awaitable[T | None]]:
    """For background work that updates panes when a backend call returns: if the app
    was torn down meanwhile (quit, test teardown), the panes are gone - drop the
    update instead of failing the app."""

    @functools.wraps(method)
    async def run(self: Any, *args: Any, **kwargs: Any) -> T | None:
        try:
            return await method(self, *args, **kwargs)
        except NoMatches:
            self.app.log.warning(f"{method.__name__}: a pane is gone, update dropped")
            return None

    return run
