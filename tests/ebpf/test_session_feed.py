"""The eBPF feed inside a real session and the real TUI: a fixture that spawns a known
batch of goroutines shows up in the lifecycle pane with exact counts, and quitting
removes every probe and BPF program."""

from __future__ import annotations

import os
import signal
import time

from gotui.backends.ebpf.feed import EbpfFeed
from gotui.backends.factory import attach_session
from gotui.tui.app import GotuiApp
from gotui.tui.widgets.lifecycle import LifecycleTable

from tests import gofixtures
from tests.ebpf.conftest import alive_and_untraced
from tests.ebpf.test_cleanup import UPROBE_EVENTS, our_programs
from tests.tui.test_app import until

BATCH = 100


async def test_lifecycle_pane_on_a_real_target_then_no_probes_left(need_bpf: None) -> None:
    exe = gofixtures.build("ebpf_spawn")
    before_progs = our_programs()
    before_events = UPROBE_EVENTS.read_text()
    with gofixtures.run(exe, "-batch", str(BATCH)) as target:
        session = attach_session(target.pid)
        session.ebpf = EbpfFeed(target.pid, budget=1.0)  # accuracy here, not the guard
        await session.start()
        app = GotuiApp(session, keymap_path=os.devnull + ".missing.toml")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: session.ebpf is not None and session.ebpf.running,
                        "probes attached", 60)
            assert len(our_programs() - before_progs) >= 2
            await pilot.pause(0.5)
            os.kill(target.pid, signal.SIGUSR1)
            assert target.proc.stdout is not None
            assert target.proc.stdout.readline().strip() == f"SPAWNED {BATCH}"
            await pilot.press("9")
            table = app.query_one(LifecycleTable)

            def site(fn: str) -> tuple[int, int, int] | None:
                row = next((r for r in table.rows_shown if r.go_statement.function == fn
                            and r.start.function in ("main.worker", "main.leaf")), None)
                return None if row is None else (row.created_total, row.exited_total, row.live)

            await until(pilot, lambda: site("main.spawner") == (BATCH, BATCH, 0)
                        and site("main.worker") == (BATCH, BATCH, 0),
                        "100 workers and 100 leaves created and exited", 30)
            spawner = next(r for r in table.rows_shown if r.go_statement.function
                           == "main.spawner")
            assert spawner.go_statement.file.endswith("ebpf_spawn/main.go")
            assert spawner.start.function == "main.worker"
            assert spawner.mean_lifetime is not None and spawner.mean_lifetime < 10
            assert "from eBPF events" in str(app.query_one("#pane-lifecycle").border_subtitle)
            await pilot.press("q", "enter")
            await until(pilot, lambda: app.closing and not session.ebpf.running,  # type: ignore[union-attr]
                        "the session closed", 30)
        await session.close()
        deadline = time.monotonic() + 10
        while our_programs() - before_progs and time.monotonic() < deadline:
            time.sleep(0.1)
        assert our_programs() <= before_progs
        assert UPROBE_EVENTS.read_text() == before_events
        assert alive_and_untraced(target.pid)
        os.kill(target.pid, signal.SIGUSR1)  # and it still works
        assert target.proc.stdout.readline().strip() == f"SPAWNED {BATCH}"
