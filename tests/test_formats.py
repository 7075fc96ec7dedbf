"""Snapshot renderings: JSON round trip and Go's goroutine dump format."""

from __future__ import annotations

import json
import re

from gotui.backends.formats import (
    human_duration,
    shown_by_runtime,
    to_goroutine_dump,
    to_json_text,
    to_text,
)
from gotui.backends.model import (
    BlockedOn,
    Channel,
    Frame,
    Goroutine,
    Location,
    Lock,
    Shared,
    Snapshot,
    goroutine_from_json,
    snapshot_from_json,
    to_json,
)

HEADER = re.compile(r"^goroutine (\d+) \[([^\]]+)\]:$", re.M)


def sample() -> Snapshot:
    recv = Goroutine(
        id=18, status="waiting", wait_reason="chan receive", wait_ns=3 * 60 * 10**9 + 5,
        current=Location("runtime.gopark", "/go/src/runtime/proc.go", 435, 0x43a),
        user_current=Location("main.receiver", "/src/main.go", 42, 0x4a0),
        go_statement=Location("main.main", "/src/main.go", 80, 0x4b0),
        start=Location("main.receiver", "/src/main.go", 40, 0x490), parent_id=1,
        blocked_on=BlockedOn("0xc000012345", "recv"),
        stack=[Frame("runtime.gopark", "/go/src/runtime/proc.go", 435, 0x43a, "runtime"),
               Frame("main.receiver", "/src/main.go", 42, 0x4a0, "go")],
    )
    run = Goroutine(id=1, status="running", current=Location("main.main", "/src/main.go", 90))
    dead = Goroutine(id=7, status="dead")
    ch = Channel("0xc000012345", "int", 0, 0, False, [], [18])
    return Snapshot(pid=42, exe="/bin/x", go_version="go1.26.8", goroutines=[recv, run, dead],
                    channels=[ch])


def test_json_round_trip_keeps_contract_fields() -> None:
    snap = sample()
    text = to_json_text(snap)
    data = json.loads(text)
    for key in ("pid", "exe", "go_version", "source", "taken_at", "target_paused_ns",
                "goroutines", "channels"):
        assert key in data
    g = data["goroutines"][0]
    assert g["blocked_on"] == {"chan": "0xc000012345", "op": "recv"}
    assert g["stack"][1]["kind"] == "go"
    assert to_json(snapshot_from_json(data)) == data


def test_decoding_many_goroutines_shares_equal_parts_and_nothing_else() -> None:
    recv = to_json(sample().goroutines[0])
    other = {**recv, "id": 19, "user_current": {**recv["user_current"], "line": 43},
             "stack": [recv["stack"][0], {**recv["stack"][1], "line": 43}]}
    shared = Shared()
    a, b = (goroutine_from_json(json.loads(json.dumps(d)), shared) for d in (recv, other))
    assert to_json(a) == recv and to_json(b) == other
    assert a.current is b.current and a.start is b.start and a.status is b.status
    assert a.user_current is not b.user_current and a.user_current.file is b.user_current.file
    assert a.stack[0] is b.stack[0] and a.stack[1] is not b.stack[1]
    assert a.stack is not b.stack
    c = goroutine_from_json({**recv, "id": 20}, shared)
    assert c.stack is a.stack  # the same frames: one list
    assert not a.labels and a.labels is not c.labels  # a mutable dict is never shared
    small = Shared(limit=3)  # past its limit the memo starts again; objects stay right
    made = [goroutine_from_json(d, small) for d in (recv, other, recv)]
    assert [to_json(g) for g in made] == [recv, other, recv] and len(small.memo) <= 3


def test_goroutine_dump_matches_runtime_format() -> None:
    dump = to_goroutine_dump(sample())
    blocks = [b for b in dump.split("\n\n") if b.strip()]
    assert len(blocks) == 2  # dead goroutines are not printed
    first = blocks[0].splitlines()
    assert first[0] == "goroutine 1 [running]:"
    lines = blocks[1].splitlines()
    m = HEADER.match(lines[0])
    assert m and m.group(1) == "18" and m.group(2) == "chan receive, 3 minutes"
    # the runtime leaves its unexported frames out (runtime.gopark) at the default level
    assert lines[1:3] == ["main.receiver(...)", "\t/src/main.go:42"]
    assert lines[-2] == "created by main.main in goroutine 1"
    assert lines[-1] == "\t/src/main.go:80"


def test_goroutine_dump_leaves_out_what_the_runtime_does() -> None:
    snap = sample()
    gc = Goroutine(id=2, status="waiting", wait_reason="force gc (idle)",
                   start=Location("runtime.forcegchelper"),
                   go_statement=Location("runtime.init.7", "/go/src/runtime/proc.go", 1))
    snap.goroutines[1].go_statement = Location("runtime.main", "/go/src/runtime/proc.go", 2)
    snap.goroutines.append(gc)
    dump = to_goroutine_dump(snap)
    assert [int(m.group(1)) for m in HEADER.finditer(dump)] == [1, 18]  # no system ones
    assert "created by runtime.main" not in dump  # goroutine 1 has no creator line
    assert shown_by_runtime("runtime.Gosched") and shown_by_runtime("sync.(*Mutex).Lock")
    assert not shown_by_runtime("runtime.chanrecv1")
    # a name without a package (C code) is never printed (showfuncinfo wants a '.')
    assert not shown_by_runtime("crosscall2")


def test_text_has_one_line_per_goroutine() -> None:
    out = to_text(sample())
    assert "main.receiver" in out
    assert "chan receive ≥3m00s" in out  # g.waitsince: a lower bound
    assert "chan 0xc000012345 int len=0 cap=0" in out
    snap = sample()
    snap.locks = [Lock("0xc0000a0", "mutex", "0xc0000a4", [18])]
    assert "lock 0xc0000a0 mutex waiters=[18]" in to_text(snap)


def test_human_duration() -> None:
    assert human_duration(0) == ""
    assert human_duration(5 * 10**6) == "5ms"
    assert human_duration(42 * 10**9) == "42s"
    assert human_duration(90 * 10**9) == "1m30s"
    assert human_duration(3 * 3600 * 10**9) == "3h00m"
    assert human_duration(50 * 3600 * 10**9) == "2d02h"
