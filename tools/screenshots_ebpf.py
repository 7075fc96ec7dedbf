"""Screenshots of the eBPF panes on the real demo service into screenshots/:
the lifecycle pane and state timeline, a live tracepoint log, the tracepoint form
pointing at a bad token, and (on the ebpf_pingpong fixture) the overhead guard
sampling deep probes that would cost far over budget.

    .venv/bin/python tools/screenshots_ebpf.py      (as root, with BCC)

Same rules as tools/screenshots.py: a real Session (live reader + eBPF feed) per
shot, driven with Textual's Pilot; at the end every probe is gone and the demo runs.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gotui.backends.demo import start_demo  # noqa: E402
from gotui.backends.ebpf.feed import EbpfFeed  # noqa: E402
from gotui.backends.factory import attach_session  # noqa: E402
from gotui.backends.model import GotuiError  # noqa: E402
from gotui.tui.app import GotuiApp  # noqa: E402
from gotui.tui.widgets.probe_status import ProbeStatus  # noqa: E402
from gotui.tui.widgets.tracepoint_log import TracepointFormScreen  # noqa: E402
from textual.pilot import Pilot  # noqa: E402

from tests import gofixtures  # noqa: E402
from tests.gofixtures import tracer_pid  # noqa: E402
from tools.screenshots import DEMO_ADDR, DEMO_DIR, OUT, Drive, prepare_terminal, until  # noqa: E402

TRACE_FUNCTION = "main.process"
TRACE_COND = "j.ID % 3 == 0"
BAD_COND = "j.ID > 10 && j.Nmae == 2"
OUR_PROGS = ("on_created", "on_exited", "on_blocked", "on_unblocked", "on_calibrate", "on_tp_0")


async def lifecycle(app: GotuiApp, pilot: Pilot[None], seconds: float = 25.0) -> None:
    """Open the lifecycle pane and let the timeline fill for `seconds`."""
    await pilot.press("9")
    await until(pilot, lambda: app.ebpf_view.model.source == "events", "eBPF created events",
                60)
    await pilot.pause(seconds)


async def drive_lifecycle_narrow(app: GotuiApp, pilot: Pilot[None]) -> None:
    await lifecycle(app, pilot)


async def drive_lifecycle_wide(app: GotuiApp, pilot: Pilot[None]) -> None:
    await lifecycle(app, pilot, 5.0)
    await add_tracepoint(pilot, TRACE_FUNCTION, TRACE_COND)
    await until(pilot, lambda: any(tp.logged >= 8 for tp in app.ebpf_view.tracepoints.values()),
                "tracepoint hits", 60)
    await pilot.press("9")
    await pilot.pause(20.0)


async def add_tracepoint(pilot: Pilot[None], function: str, cond: str) -> None:
    await pilot.press("0", "a")
    await until(pilot, lambda: isinstance(pilot.app.screen, TracepointFormScreen), "the form")
    await pilot.press(*function, "tab", *cond, "enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, TracepointFormScreen),
                "the tracepoint to be set", 60)


async def drive_tracepoint_error(app: GotuiApp, pilot: Pilot[None]) -> None:
    await lifecycle(app, pilot, 1.0)
    await pilot.press("0", "a")
    await until(pilot, lambda: isinstance(app.screen, TracepointFormScreen), "the form")
    await pilot.press(*TRACE_FUNCTION, "tab", *BAD_COND, "enter")
    error = app.screen.query_one("#tp-error")
    await until(pilot, lambda: "column" in str(error.render()), "the condition error", 60)


async def drive_guard(app: GotuiApp, pilot: Pilot[None]) -> None:
    await pilot.press("9")
    status = app.query_one(ProbeStatus)
    await until(pilot, lambda: "guard:" in status.render().plain, "the guard backing off", 60)
    await pilot.pause(8.0)


async def shoot(pid: int, name: str, size: tuple[int, int], drive: Drive,
                deep: bool = False) -> None:
    session = attach_session(pid)
    session.ebpf = EbpfFeed(pid, deep=deep)
    try:
        await session.start()
        app = GotuiApp(session, refresh_interval=1.0, keymap_path="/nonexistent/keymap.toml")
        async with app.run_test(size=size) as pilot:
            await drive(app, pilot)
            app.save_screenshot(filename=name, path=str(OUT))
    finally:
        await session.close(resume=True)
    print(OUT / name)


def our_programs() -> list[str]:
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return [p["name"] for p in json.loads(out) if p.get("name") in OUR_PROGS]


async def main() -> None:
    prepare_terminal()
    pid = start_demo(DEMO_ADDR, DEMO_DIR)
    print(f"demo pid {pid}")
    try:
        await shoot(pid, "demo-lifecycle-80x24.svg", (80, 24), drive_lifecycle_narrow)
        await shoot(pid, "demo-lifecycle-160x48.svg", (160, 48), drive_lifecycle_wide)
        await shoot(pid, "demo-tracepoint-error-80x24.svg", (80, 24), drive_tracepoint_error)
        # deep probes on a channel ping-pong: far over budget, the guard samples them
        with gofixtures.run(gofixtures.build("ebpf_pingpong", optimize=True),
                            "-every", "250ms") as pingpong:
            await shoot(pingpong.pid, "pingpong-guard-80x24.svg", (80, 24), drive_guard,
                        deep=True)
    finally:
        deadline = time.monotonic() + 10
        while (tracer_pid(pid) != 0 or our_programs()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert tracer_pid(pid) == 0, f"demo {pid} is still traced"
        assert not our_programs(), f"BPF programs left: {our_programs()}"
        print(f"demo {pid} running, untraced, no probes left")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except GotuiError as exc:
        sys.exit(f"screenshots: {exc}")
