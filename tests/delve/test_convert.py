"""Unit tests: Delve JSON -> model mapping and small parsers (no dlv needed)."""

from __future__ import annotations

from gotui.backends.delve import convert
from gotui.backends.delve.backend import go_version_problem
from gotui.backends.delve.channels import chan_op, decode_abi_name
from gotui.backends.delve.process import dlv_error_line

API_GOROUTINE = {  # shape of api.Goroutine as dlv 1.27.2 sends it
    "id": 21,
    "currentLoc": {"pc": 4743601, "file": "/go/src/runtime/proc.go", "line": 463,
                   "function": {"name": "runtime.gopark", "value": 4743360}},
    "userCurrentLoc": {"pc": 5190388, "file": "/src/main.go", "line": 50,
                       "function": {"name": "main.sender"}},
    "goStatementLoc": {"pc": 5191723, "file": "/src/main.go", "line": 93,
                       "function": {"name": "main.main"}},
    "startLoc": {"pc": 5190336, "file": "/src/main.go", "line": 49,
                 "function": {"name": "main.sender"}},
    "threadID": 0, "status": 4, "waitSince": 1_000, "waitReason": 20, "unreadable": "",
    "labels": {"role": "x"},
}


def test_goroutine_mapping() -> None:
    reasons = [f"r{i}" for i in range(20)] + ["chan send"]
    g = convert.goroutine(API_GOROUTINE, reasons, now_ns=5_000)
    assert (g.id, g.status, g.wait_reason, g.wait_ns) == (21, "waiting", "chan send", 4_000)
    assert g.current.function == "runtime.gopark" and g.user_current.line == 50
    assert g.go_statement.function == "main.main" and g.start.function == "main.sender"
    assert g.labels == {"role": "x"} and g.thread_id == 0
    # no strings from the target: the per-version fallback is asked
    g2 = convert.goroutine(API_GOROUTINE, [], None, lambda raw: f"fallback {raw}")
    assert g2.wait_reason == "fallback 20" and g2.wait_ns == 0


def test_wait_ns() -> None:
    assert convert.wait_ns(0, 10**12) == 0  # waitSince not set yet (no GC ran)
    assert convert.wait_ns(100, None) == 0  # remote Delve: clocks not comparable
    assert convert.wait_ns(100, 50) == 0
    assert convert.wait_ns(100, 350) == 250


def test_running_goroutine_has_no_wait_reason() -> None:
    g = convert.goroutine({**API_GOROUTINE, "status": 2, "waitReason": 0, "threadID": 77},
                          ["", "x"], None)
    assert (g.status, g.wait_reason, g.thread_id) == ("running", "", 77)


def test_breakpoint_mapping() -> None:
    bp = convert.breakpoint({"id": 3, "name": "n", "file": "/a.go", "line": 9,
                             "functionName": "main.hot", "Cond": "i > 1", "HitCond": "% 3",
                             "HitCondPerG": True, "continue": False, "disabled": True,
                             "totalHitCount": 7, "hitCount": {"14": 5, "15": 2},
                             "addrs": [1, 2]})
    assert (bp.id, bp.cond, bp.hit_cond, bp.hit_cond_per_g, bp.enabled) == (
        3, "i > 1", "% 3", True, False)
    assert bp.total_hits == 7 and bp.hits_per_goroutine == {14: 5, 15: 2}


def test_target_state_at_breakpoint() -> None:
    st = convert.target_state({
        "Running": False, "exited": False, "stopReason": "",
        "currentThread": {"id": 9, "pc": 1, "file": "/a.go", "line": 40,
                          "function": {"name": "main.hot"}, "goroutineID": 14,
                          "breakPoint": {"id": 2}},
        "currentGoroutine": {"id": 14, "userCurrentLoc": {"file": "/a.go", "line": 40,
                                                          "function": {"name": "main.hot"}}},
    })
    assert (st.running, st.breakpoint_id, st.stop_reason) == (False, 2, "breakpoint")
    assert (st.current_goroutine, st.current_thread) == (14, 9)
    assert st.current is not None and st.current.short() == "main.hot a.go:40"


def test_variable_rendering() -> None:
    v = convert.variable({"name": "r", "type": "*main.request", "kind": 22,
                          "value": "824634", "children": [
                              {"name": "", "type": "main.request", "kind": 25, "children": [
                                  {"name": "ID", "type": "int", "kind": 2, "value": "7"},
                                  {"name": "Path", "type": "string", "kind": 24,
                                   "value": "/x", "len": 2}]}]})
    assert v.kind == "ptr" and v.value == hex(824634)
    assert convert.render_value(v) == '&{ID: 7, Path: "/x"}'
    long = convert.variable({"name": "s", "kind": 24, "value": "ab", "len": 10})
    assert long.value == '"ab"...+8 more'


def test_small_parsers() -> None:
    assert decode_abi_name(b"\x00\x07*string\x00") == "*string"
    assert decode_abi_name(b"\x00" + bytes([0x81, 0x01]) + b"x" * 129) == "x" * 129
    assert chan_op("chan receive") == "recv" and chan_op("select (durable)") == "select"
    assert chan_op("chan receive (nil chan)") is None and chan_op("sleep") is None
    version = {"MinSupportedVersionOfGo": "1.25.0", "MaxSupportedVersionOfGo": "1.27.0"}
    assert go_version_problem("go1.26.8", version) == ""
    assert go_version_problem("go1.19.8", version).startswith("Go version 1.19.8 is too old")
    assert "maximum supported version 1.27" in go_version_problem("go1.28.1", version)
    assert go_version_problem("", version) == ""
    assert dlv_error_line(["API server listening at: /x", "could not attach to pid 5:",
                           "  no such process"], 5) == "could not attach to pid 5: no such process"
    assert dlv_error_line([], 5).startswith("dlv could not attach to pid 5")


def test_stale_wait_reason_of_a_running_goroutine_is_dropped() -> None:
    # At a breakpoint Delve reports the running g with the reason of its last park.
    g = convert.goroutine({"id": 9, "status": 2, "waitReason": 2}, ["", "a", "IO wait"], None)
    assert g.status == "running" and g.wait_reason == ""
    g = convert.goroutine({"id": 9, "status": 4, "waitReason": 2}, ["", "a", "IO wait"], None)
    assert g.wait_reason == "IO wait"
