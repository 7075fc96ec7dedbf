"""The `gotui trace` entry point (async generator) and its JSON line schema; the
one-line reasons given when eBPF cannot work."""

from __future__ import annotations

import json

import pytest
from gotui.backends.ebpf import loader
from gotui.backends.ebpf.decode import event_to_json_line
from gotui.backends.ebpf.trace import trace_events
from gotui.backends.model import Event, GotuiError

from tests import gofixtures


async def test_trace_events_json_lines(need_bpf: None) -> None:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as target:
        lines = [json.loads(event_to_json_line(ev)) async for ev in trace_events(
            target.pid, duration=3.0, deep=False, func="main.hot", cond="i % 50 == 0")]
    tps = [ln for ln in lines if ln["type"] == "tracepoint"]
    assert tps and all(ln["args"]["i"] % 50 == 0 for ln in tps)
    assert all({"type", "t_ns", "goid", "parent_id"} <= ln.keys() for ln in lines)
    assert all({"function", "file", "line", "pc"} <= set(ln["location"]) for ln in tps)


def test_json_line_flattens_data() -> None:
    loc = {"function": "main.worker", "file": "/x/main.go", "line": 37, "pc": 4096}
    ev = Event(type="created", t_ns=5, goid=9, parent_id=3,
               data={"start": loc, "go_statement": loc})
    assert json.loads(event_to_json_line(ev)) == {
        "type": "created", "t_ns": 5, "goid": 9, "parent_id": 3, "start": loc,
        "go_statement": loc}


async def test_cond_without_func_is_an_error() -> None:
    with pytest.raises(GotuiError, match="--cond needs --func"):
        async for _ in trace_events(1, duration=1, deep=False, func=None, cond="i == 1"):
            pass


def test_not_root_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader.os, "geteuid", lambda: 1000)
    with pytest.raises(GotuiError, match="^eBPF tracing needs root") as exc:
        loader.check_environment()
    assert "\n" not in str(exc.value)


def test_missing_headers_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader.platform, "release", lambda: "0.0-none")
    reason = loader.unavailable_reason()
    if reason is not None and "root" in reason:
        pytest.skip("not root: the headers check is not reached")
    assert reason is not None and "no kernel headers at /lib/modules/0.0-none/build" in reason
