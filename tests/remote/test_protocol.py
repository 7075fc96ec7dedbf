"""Protocol parser and snapshot deltas: unit tests and fuzzing."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from gotui.backends.model import (
    BlockedOn,
    Frame,
    Location,
    Shared,
    Snapshot,
    snapshot_from_json,
    to_json,
)
from gotui.backends.remote.commands import COMMANDS
from gotui.backends.remote.protocol import (
    MAX_INBOUND,
    ProtocolError,
    encode,
    parse_client_message,
    parse_server_message,
)
from gotui.backends.remote.snapshots import (
    WAIT_TOLERANCE_NS,
    BodyCache,
    PartsAssembler,
    TextSnapshot,
    WireSnapshot,
    apply_delta,
    delta_texts,
    full_texts,
    made_goroutine,
    make_objects,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.remote.fakes import make_goroutine

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


def message_like() -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped like real messages, with random field values."""
    kinds = st.sampled_from(["command", "request_drive", "grant_drive", "follow", "select",
                             "resync", "hello", "nope", ""])
    names = st.sampled_from([*COMMANDS, "rm -rf", ""])
    return st.fixed_dictionaries(
        {"type": kinds},
        optional={"name": names, "args": st.dictionaries(
            st.sampled_from(["goid", "frame", "expr", "path", "breakpoint", "depth", "x"]),
            json_values, max_size=3) | json_values,
            "id": json_values, "to": json_values, "on": json_values,
            "goroutine": json_values, "pane": json_values})


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps), message_like().map(json.dumps), st.text(),
                 st.binary()))
def test_parser_only_ever_raises_protocol_errors(raw: str | bytes) -> None:
    for parse in (parse_client_message, parse_server_message):
        try:
            parse(raw)
        except ProtocolError as exc:
            assert exc.to_message()["type"] == "error"
            assert exc.code in ("bad_message", "too_large")


@settings(max_examples=200, deadline=None)
@given(message_like())
def test_accepted_commands_match_their_argument_spec(obj: dict[str, Any]) -> None:
    try:
        msg = parse_client_message(json.dumps(obj))
    except ProtocolError:
        return
    if msg.type == "command":
        spec = COMMANDS[msg.fields["name"]].args
        for key, value in msg.fields["args"].items():
            types, _ = spec[key]
            assert isinstance(value, types) and (bool in types or not isinstance(value, bool))
        assert all(key in msg.fields["args"] for key, (_, req) in spec.items() if req)


@pytest.mark.parametrize("raw", [
    "", "null", "1", '"x"', "[]", "{}", '{"type": 1}', '{"type": "command"}',
    '{"type": "command", "name": "halt", "args": [], "id": 1}',
    '{"type": "command", "name": "halt", "args": {}, "id": 1.5}',
    '{"type": "command", "name": "halt", "args": {}, "id": null}',
    '{"type": "command", "name": "stack", "args": {"goid": 1.0}, "id": 1}',
    '{"type": "command", "name": "eval", "args": {}, "id": 1}',
    '{"type": "follow"}', '{"type": "grant_drive", "to": null}',
])
def test_bad_client_messages(raw: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_client_message(raw)
    assert exc.value.code == "bad_message"


def test_command_id_is_kept_for_the_error_reply() -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_client_message('{"type":"command","name":"stack","args":{},"id":"abc"}')
    assert exc.value.msg_id == "abc" and "goid" in str(exc.value)


def test_oversize_is_too_large() -> None:
    with pytest.raises(ProtocolError) as exc:
        parse_client_message(" " * (MAX_INBOUND + 1))
    assert exc.value.code == "too_large"


def test_good_command_parses() -> None:
    msg = parse_client_message(json.dumps({
        "type": "command", "name": "create_breakpoint", "id": 3,
        "args": {"breakpoint": {"function": "main.hot", "cond": "i > 3", "total_hits": 9}}}))
    assert msg.fields["args"]["breakpoint"] == {"function": "main.hot", "cond": "i > 3"}


# ----------------------------------------------------------------- snapshots and deltas

def snap_of(ids: list[int], waits: dict[int, int], taken_at: float = 100.0) -> Snapshot:
    snap = Snapshot(pid=1, taken_at=taken_at, goroutines=[make_goroutine(i) for i in ids])
    for g in snap.goroutines:
        g.wait_ns = waits.get(g.id, 0)
    return snap


def receive(texts: list[str]) -> dict[str, Any]:
    """What a client makes of a message sent in parts."""
    joiner = PartsAssembler()
    results = [joiner.feed(parse_server_message(t)) for t in texts]
    assert results[:-1] == [None] * (len(texts) - 1) and results[-1] is not None
    return results[-1]


ids_strategy = st.lists(st.integers(1, 40), unique=True, max_size=25)
# waits in steps of 40 ms, so some fall within the prediction tolerance and some not
waits_strategy = st.dictionaries(st.integers(1, 40), st.integers(0, 8).map(lambda n: n * 40_000_000))


@settings(max_examples=300, deadline=None)
@given(ids_strategy, ids_strategy, waits_strategy, waits_strategy,
       st.integers(0, 5).map(lambda n: n * 0.04), st.integers(1, 30))
def test_delta_turns_base_into_new_including_order(a: list[int], b: list[int],
                                                   wa: dict[int, int], wb: dict[int, int],
                                                   dt: float, chunk: int) -> None:
    base_snap, new_snap = snap_of(a, wa), snap_of(b, wb, 100.0 + dt)
    base, new = TextSnapshot.build(1, base_snap), TextSnapshot.build(2, new_snap)
    have = WireSnapshot.from_json(1, receive(full_texts(base, chunk))["snapshot"])
    assert have.goroutines == WireSnapshot.from_json(1, to_json(base_snap)).goroutines
    msg = receive(delta_texts(base, new, chunk))
    got = apply_delta(have, msg)
    want = WireSnapshot.from_json(2, to_json(new_snap))
    assert got.seq == 2 and list(got.goroutines) == b and got.meta == want.meta
    predicted = got.predicted()
    for gid, g in want.goroutines.items():
        mine = predicted[gid]
        assert {**mine, "wait_ns": 0} == {**g, "wait_ns": 0}
        assert (mine["wait_ns"] == 0) == (g["wait_ns"] == 0)
        assert abs(mine["wait_ns"] - g["wait_ns"]) <= WAIT_TOLERANCE_NS
    unchanged = {i for i in set(a) & set(b) if wa.get(i, 0) == wb.get(i, 0) == 0}
    assert not unchanged & {g["id"] for g in msg["upsert"]}  # only changes travel


def test_delta_against_the_wrong_base_is_refused() -> None:
    base = TextSnapshot.build(1, snap_of([1, 2], {}))
    new = TextSnapshot.build(3, snap_of([2, 3], {}))
    other = WireSnapshot.from_json(2, to_json(snap_of([1, 2], {})))
    with pytest.raises(ProtocolError):
        apply_delta(other, receive(delta_texts(base, new, 100)))


def test_full_message_is_the_snapshot_json_schema() -> None:
    snap = Snapshot(pid=7, exe="/bin/x", goroutines=[make_goroutine(1), make_goroutine(2)])
    snap.goroutines[0].wait_ns = 5
    msg = receive(full_texts(TextSnapshot.build(1, snap), 1000))
    assert msg["snapshot"] == to_json(snap)
    assert snapshot_from_json(msg["snapshot"]) == snap


def test_waiting_longer_is_predicted_not_resent() -> None:
    sec = 1_000_000_000
    base_snap = snap_of([1, 2, 3], {1: 5 * sec, 3: 2 * sec}, taken_at=100.0)
    # 1 s later: g1 still waits, g2 still unknown, g3 was woken and parked again; taken_at
    # says 1 s but the reader's clock says 1.05 s: the reader's clock is what counts
    new_snap = snap_of([1, 2, 3], {1: 6 * sec + WAIT_TOLERANCE_NS // 2, 3: sec // 10},
                       taken_at=101.0)
    base, new = TextSnapshot.build(1, base_snap), TextSnapshot.build(2, new_snap)
    msg = receive(delta_texts(base, new, 1000))
    assert [g["id"] for g in msg["upsert"]] == [3]
    got = apply_delta(WireSnapshot.from_json(1, to_json(base_snap)), msg)
    # predicted from the median growth: exact here, within the tolerance in general
    assert got.wait_ns(1) == 6 * sec + WAIT_TOLERANCE_NS // 2
    assert got.wait_ns(2) == 0 and got.wait_ns(3) == sec // 10


def naive_json(obj: Any) -> Any:
    """What to_json must equal: the plain recursive conversion of a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: naive_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [naive_json(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): naive_json(v) for k, v in obj.items()}
    return obj


def test_the_one_serialiser_is_the_plain_conversion() -> None:
    shared = make_goroutine(1).start
    snap = Snapshot(pid=7, exe="/bin/x", goroutines=[make_goroutine(i) for i in range(1, 30)])
    for g in snap.goroutines:
        g.start = g.go_statement = shared  # the live reader shares Location objects
        g.labels = {"k": str(g.id)}
    snap.goroutines[3].blocked_on = BlockedOn("0xc0001", "recv")
    snap.goroutines[3].waiting_on = [BlockedOn("0xc0001", "recv")]
    assert to_json(snap) == naive_json(snap)
    assert json.dumps(to_json(snap)) == json.dumps(naive_json(snap))
    snap.goroutines[4].stack.append(Frame("main.é\"quoted\"", "/src/ü.go", 1, 2, "go", "n"))
    snap.goroutines[5].labels = {}
    texts = TextSnapshot.build(1, snap)  # goroutine texts put together from field texts
    for g in snap.goroutines:
        want = to_json(g)
        want.pop("wait_ns"), want.pop("id")
        assert texts.bodies[g.id] == encode(want)[1:-1]
        assert json.loads(texts.goroutine_text(g.id)) == to_json(g)


def test_goroutines_parked_alike_share_one_body_text() -> None:
    """The host keeps one text for goroutines that differ only in id and wait (100k
    sleepers), and each goroutine's message text still has its own id and wait."""
    alike = [dataclasses.replace(make_goroutine(1), id=i, wait_ns=i) for i in (1, 2, 3)]
    other = make_goroutine(4)
    cache = BodyCache()
    first = TextSnapshot.build(1, Snapshot(pid=1, goroutines=[*alike, other]), cache)
    a, b, c, d = (first.bodies[i] for i in (1, 2, 3, 4))
    assert a is b is c and d != a
    assert [json.loads(first.goroutine_text(g.id)) for g in alike] == [to_json(g) for g in alike]
    alike[1] = dataclasses.replace(alike[1], wait_reason="select")
    second = TextSnapshot.build(2, Snapshot(pid=1, goroutines=[*alike, other]), cache)
    assert second.bodies[1] is a and second.bodies[2] != a and second.bodies[3] is a


@pytest.mark.parametrize("full", [True, False])
def test_big_snapshots_travel_in_parts_and_join_back(full: bool) -> None:
    base_snap, new_snap = snap_of(list(range(1, 30)), {}), snap_of(list(range(5, 40)), {7: 1})
    base, new = TextSnapshot.build(1, base_snap), TextSnapshot.build(2, new_snap)
    texts = full_texts(new, 4) if full else delta_texts(base, new, 4)
    assert len(texts) >= 3 and all(len(json.loads(t).get("items", [])) <= 4 for t in texts)
    whole = receive(texts)
    have = WireSnapshot.from_json(1, to_json(base_snap))
    got = WireSnapshot.from_json(2, whole["snapshot"]) if full else apply_delta(have, whole)
    assert got.predicted() == WireSnapshot.from_json(2, to_json(new_snap)).goroutines
    # a part out of order is refused, and the next whole message starts clean
    joiner = PartsAssembler()
    joiner.feed(parse_server_message(texts[0]))
    with pytest.raises(ProtocolError):
        joiner.feed(parse_server_message(texts[2]))
    one = full_texts(new, 1000)
    assert len(one) == 1 and joiner.feed(parse_server_message(one[0])) is not None


@pytest.mark.parametrize("full", [True, False])
def test_each_part_is_made_into_objects_as_it_comes(full: bool) -> None:
    """A client makes each part's goroutines at once and keeps no JSON of them: the
    whole message joins back to the same goroutines, in order."""
    base_snap, new_snap = snap_of(list(range(1, 30)), {}), snap_of(list(range(5, 40)), {7: 1})
    base, new = TextSnapshot.build(1, base_snap), TextSnapshot.build(2, new_snap)
    texts = full_texts(new, 4) if full else delta_texts(base, new, 4)
    joiner, shared = PartsAssembler(), Shared()
    for t in texts:
        msg = parse_server_message(t)
        make_objects(msg, shared)
        items = msg["items"] if msg["type"] == "snapshot_part" else (
            msg["snapshot"]["goroutines"] if full else msg["upsert"])
        assert all(list(d) == ["id"] for d in items)  # the JSON is let go at once
        whole = joiner.feed(msg)
    assert whole is not None
    have = WireSnapshot.from_json(1, to_json(base_snap))
    got = WireSnapshot.from_json(2, whole["snapshot"]) if full else apply_delta(have, whole)
    want = {g.id: g for g in new_snap.goroutines}
    sent = [d for d in got.goroutines.values() if list(d) == ["id"]]  # (a delta: 7, 30-39)
    assert list(got.goroutines) == list(want) and len(sent) == (35 if full else 11)
    assert all(made_goroutine(d) == want[d["id"]] for d in sent)
    bad = parse_server_message(texts[-1])
    (bad["items"] if bad["type"] == "snapshot_part" else bad["upsert"])[0].pop("id")
    with pytest.raises(ProtocolError):
        make_objects(bad, shared)


# ------------------------------------------------------------ the server's text cache

def cow(snap: Snapshot, seq_changes: dict[int, dict[str, Any]]) -> Snapshot:
    """The next snapshot as the live reader makes it: unchanged goroutines are the same
    objects, changed ones are new objects (copy on write)."""
    return Snapshot(pid=snap.pid, taken_at=snap.taken_at + 1, goroutines=[
        dataclasses.replace(g, **seq_changes[g.id]) if g.id in seq_changes else g
        for g in snap.goroutines])


def test_cached_texts_show_every_change_in_the_next_snapshot_and_delta() -> None:
    cache = BodyCache()
    a = snap_of([1, 2, 3, 4, 5, 6, 7], {3: 10**9})
    ta = TextSnapshot.build(1, a, cache)
    changes: dict[int, dict[str, Any]] = {
        2: {"status": "runnable", "wait_reason": ""},
        3: {"wait_ns": 2 * 10**9},  # only waited longer: predicted, not re-sent
        4: {"current": Location("main.other", "/src/other.go", 7, 0x401234)},
        5: {"labels": {"req": "42"}},
        6: {"stack": [Frame("main.deeper", "/src/deep.go", 3, 0x402000)]},
        7: {"blocked_on_lock": "0xc000100", "stack_refs": ["0xc000200"]},
    }
    b = cow(a, changes)
    tb = TextSnapshot.build(2, b, cache)
    plain = TextSnapshot.build(2, b)  # the cache changes nothing but the cost
    assert (tb.bodies, tb.waits, tb.files) == (plain.bodies, plain.waits, plain.files)
    assert "/src/other.go" in tb.files and "/src/deep.go" in tb.files
    msg = receive(delta_texts(ta, tb, 1000))
    assert sorted(g["id"] for g in msg["upsert"]) == [2, 4, 5, 6, 7]
    got = apply_delta(WireSnapshot.from_json(1, to_json(a)), msg)
    assert got.predicted() == WireSnapshot.from_json(2, to_json(b)).goroutines
    # a client that let the JSON go (its objects are made) applies deltas to ids alone
    lean = WireSnapshot.from_json(1, to_json(a))
    lean.forget_bodies()
    slim = apply_delta(lean, msg)
    assert list(slim.goroutines) == list(got.goroutines) and not slim.bodies
    assert {gid: slim.goroutines[gid] for gid in (2, 4, 5, 6, 7)} == {
        gid: got.goroutines[gid] for gid in (2, 4, 5, 6, 7)}  # what was sent is there
    with pytest.raises(ValueError):
        slim.predicted()
    # equal content in new objects (Delve builds every snapshot anew): nothing re-sent
    c = Snapshot(pid=b.pid, goroutines=[dataclasses.replace(g) for g in b.goroutines])
    tc = TextSnapshot.build(3, c, cache)
    assert receive(delta_texts(tb, tc, 1000))["upsert"] == []
    # a change back to the first state shows too; gone goroutines leave the cache
    d = Snapshot(pid=a.pid, goroutines=a.goroutines[:6])
    td = TextSnapshot.build(4, d, cache)
    assert td.bodies == {gid: ta.bodies[gid] for gid in range(1, 7)}
    assert set(cache.keys) == set(cache.bodies) == {1, 2, 3, 4, 5, 6}
    assert sorted(g["id"] for g in receive(delta_texts(tc, td, 1000))["upsert"]) == [2, 4, 5, 6]
