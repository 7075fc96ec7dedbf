"""LiveReader across Go 1.19-1.27 and build modes (debug, optimized with inlining,
PIE, stripped): the same goroutines, start functions and channel waits everywhere.
Go 1.20-1.25 run when their toolchains are in the module cache (see conftest.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from gotui.backends.live.reader import LiveReader

from tests import gofixtures
from tests.live.conftest import ALL_TOOLCHAINS, MAIN_TOOLCHAINS, build, build_pie

pytestmark = pytest.mark.integration

USER_STARTS = {"main.receiver": 3, "main.sender": 2, "main.sleeper": 2, "main.locker": 1,
               "main.ticker": 1, "runtime.main": 1}
CASES = ([(tc, "debug") for tc in ALL_TOOLCHAINS]
         + [(tc, mode) for tc in MAIN_TOOLCHAINS for mode in ("optimized-stripped", "pie-stripped")])


def binary(toolchain: str, mode: str) -> Path:
    if mode == "pie-stripped":
        return build_pie("basic", toolchain, stripped=True)
    return build("basic", toolchain, stripped=mode != "debug", optimize=mode != "debug")


@pytest.mark.parametrize(("toolchain", "mode"), CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_same_view_everywhere(toolchain: str, mode: str) -> None:
    with gofixtures.run(binary(toolchain, mode)) as t:
        reader = LiveReader(t.pid)
        snap = reader.snapshot()
        user = [g for g in snap.goroutines if g.id not in reader.system_goids]
        assert len(user) == int(t.ready_line.split()[1])
        assert Counter(g.start.function for g in user) == USER_STARTS
        ops = Counter((g.start.function, g.blocked_on.op) for g in user if g.blocked_on)
        assert ops == {("main.receiver", "recv"): 3, ("main.sender", "send"): 2}
        chans = sorted((c.elem_type, c.len, c.cap) for c in snap.channels)
        assert chans == [("int", 0, 0), ("string", 2, 2)]
        recv = next(g for g in user if g.start.function == "main.receiver")
        assert recv.user_current.function == "main.receiver"
        names = [f.function for f in reader.stack(recv.id)]
        assert names[0] == "runtime.gopark" and "main.receiver" in names
        (ticker,) = [g for g in user if g.start.function == "main.ticker"]
        assert ticker.labels == ({"role": "ticker"} if reader.facts.go_minor >= 24 else {})
        assert (reader.bias != 0) == mode.startswith("pie")
        assert reader.dropped == 0 and gofixtures.tracer_pid(t.pid) == 0
