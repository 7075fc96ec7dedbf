"""The TUI on a real Go program (tests/fixtures/basic): live list, halt through Delve,
source + locals, then `q` → resume and detach leaves the target running and untraced."""

from __future__ import annotations

import pytest
from gotui.backends.factory import attach_session
from gotui.backends.gobinary.symbols import NOTE as WALK_NOTE
from gotui.backends.session import Session
from gotui.tui.app import GotuiApp

from tests import gofixtures
from tests.needs import requires_dlv
from tests.tui.conftest import make_app
from tests.tui.test_app import until

pytestmark = pytest.mark.integration

@requires_dlv
async def test_live_list_halt_and_quit_on_a_real_target() -> None:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe, "-recv", "5", "-sleep", "3") as target:
        session = attach_session(target.pid)
        app = make_app(session)  # type: ignore[arg-type]
        try:
            await drive(app, session)
        finally:
            await session.close()  # whatever failed, never leave the target traced
        assert gofixtures.wait_untraced(target.pid, 10)
        assert gofixtures.making_progress(target.pid)


def variables_text(app: GotuiApp) -> str:
    return " ".join(str(node.label) for node in app.variables_view.root.children
                    for node in [node, *node.children])


async def drive(app: GotuiApp, session: Session) -> None:
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.index.data) > 0, "live goroutines", 20)
        assert app.header.info.backend == "live"
        assert app.state.running
        await pilot.press("slash", *"main.receiver", "enter")
        assert app.index.matched == 5
        await pilot.press("slash")
        app.goroutine_pane.prompt.value = "status:waiting sleep"
        await pilot.press("enter")
        assert app.index.matched >= 3  # 3 sleepers, plus main and the ticker at times
        await pilot.press("escape", "G", "G")  # group by go statement
        assert any(key.startswith("main.main main.go:") and n == 5
                   for key, n in app.index.groups)
        receiver = min(g.id for g in app.index.data.live.values()
                       if g.user_current.function == "main.receiver")
        await pilot.press("G", "G", "G", "G", "g", *str(receiver), "enter")
        # the channel it blocks on, with its buffer state, read without stopping
        await until(pilot, lambda: " int 0/0" in str(app.stack_view.border_subtitle),
                    "blocked-on channel", 20)
        # the live reader's note, said once for the stack rather than on every frame
        assert str(app.stack_view.border_subtitle).startswith("recv chan 0x")
        assert str(app.stack_view.border_subtitle).endswith(f" · {WALK_NOTE}")
        assert not any(WALK_NOTE in str(app.stack_view.get_option_at_index(i).prompt)
                       for i in range(app.stack_view.option_count))
        await pilot.press("h")  # attaches Delve on demand, then halts
        await until(pilot, lambda: not app.state.running, "halted", 40)
        assert "HALTED" in str(app.header.render())
        assert "delve" in app.header.info.backend
        # A halt shows the goroutine that was on a CPU, if one was (the ticker, at
        # times): once the list has followed it, go back to the receiver.
        await until(pilot, lambda: not app._follow_goid, "the list follows the stop", 20)
        await pilot.press("g", *str(receiver), "enter")
        await until(pilot, lambda: app.stack_view.goid == receiver, "stack of the receiver", 20)
        await until(pilot, lambda: app.source_view.path.endswith("basic/main.go"),
                    "source of main.receiver", 20)
        assert "<-recvCh" in app.source_view.lines[app.source_view.current - 1]
        await until(pilot, lambda: "id int = " in variables_text(app), "args", 20,
                    seen=lambda: f"{variables_text(app)!r}, {app.state}, stack of "
                                 f"{app.stack_view.goid} at {app.stack_view.selected_depth}")
        await pilot.press("q")
        await pilot.press("enter")  # Resume and detach (the default)
        await until(pilot, lambda: session._closed, "session closed", 30)
