"""The TUI knows a session only as backends/target.py's TargetSession: what it can do
comes from its Capabilities, never from probing a concrete session's attributes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gotui.backends.remote.client import join
from gotui.backends.target import Capabilities, TargetSession
from gotui.tui.screens.quit import QuitScreen

from tests.remote.conftest import make_host
from tests.tui.conftest import make_app
from tests.tui.fakes import RecordingSession, make_session
from tests.tui.test_app import WIDE, loaded, until
from tests.tui.test_applicable_keys import EXEC_KEYS, footer


async def test_local_and_joined_sessions_are_target_sessions(tmp_path: Path) -> None:
    local = make_session(tmp_path)
    assert isinstance(local, TargetSession)
    assert local.capabilities == Capabilities(post_mortem=False, can_stop=True,
                                              has_stop_backend=True, has_ebpf=False,
                                              remote=False)
    h = await make_host()
    joined = await join(h.url, h.server.viewer_token)
    try:
        assert isinstance(joined, TargetSession)
        assert joined.ebpf is None  # the host's feed is not reachable from a joiner
        assert joined.capabilities == Capabilities(post_mortem=False, can_stop=True,
                                                   has_stop_backend=True, has_ebpf=False,
                                                   remote=True)
    finally:
        await joined.close()
        await h.server.close()
        await h.session.close()


class SaysPostMortem(RecordingSession):
    """A live session whose capabilities say post-mortem: the app must go by them (its
    state alone says a running process)."""

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities, post_mortem=True)


async def test_the_app_goes_by_capabilities(tmp_path: Path) -> None:
    session = make_session(tmp_path, cls=SaysPostMortem)
    app = make_app(session)
    async with app.run_test(size=WIDE) as pilot:
        await loaded(pilot, app)
        await until(pilot, lambda: "a core file is one moment" in str(app.header.render()),
                    "the refresh label of a core")
        keys = footer(app)
        assert not (EXEC_KEYS | {"p"}) & set(keys), keys  # nothing runs, nothing refreshes
        await pilot.press("q")  # nothing to release: no dialog
        assert not isinstance(app.screen, QuitScreen)
        await until(pilot, lambda: bool(session.close_calls), "close")
    assert session.close_calls == [(True, False)]
