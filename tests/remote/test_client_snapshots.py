"""A joiner's RemoteSession turning the host's snapshot messages (full, then deltas that
add, remove, change and reorder goroutines) into Snapshots: in the host's order, with
the host's goroutines, each part made into objects as it comes."""

from __future__ import annotations

import random

from gotui.backends.model import Snapshot, TargetInfo, TargetState, to_json
from gotui.backends.remote.client import RemoteSession
from gotui.backends.remote.snapshots import (
    BodyCache,
    PartsAssembler,
    TextSnapshot,
    delta_texts,
    full_texts,
)

from tests.remote.fakes import make_goroutine


def joiner() -> RemoteSession:
    hello = {"you": "c1", "session": "s1", "role": "viewer", "token": "viewer",
             "target": to_json(TargetInfo(pid=1)), "state": to_json(TargetState()),
             "backend": {}}
    return RemoteSession(None, hello)  # type: ignore[arg-type]  # (no messages are sent)


def host_snapshots(seed: int, steps: int) -> list[Snapshot]:
    rnd = random.Random(seed)
    ids = list(range(1, 40))
    out = []
    for _ in range(steps):
        gs = [make_goroutine(i) for i in ids]
        for g in gs:
            g.wait_ns = rnd.choice([0, 10**9, 5 * 10**9])
        out.append(Snapshot(pid=1, goroutines=gs))
        ids = [i for i in ids if rnd.random() > 0.2] + [max(ids) + k for k in (1, 2, 3)]
        if rnd.random() < 0.5:
            rnd.shuffle(ids)  # a delta with an `order`
    return out


async def test_the_joiners_snapshots_are_the_hosts_in_order() -> None:
    for seed in range(8):
        session, cache, parts = joiner(), BodyCache(), PartsAssembler()
        base_text: TextSnapshot | None = None
        for seq, host in enumerate(host_snapshots(seed, 6), 1):
            text = TextSnapshot.build(seq, host, cache)
            msgs = full_texts(text, 7) if base_text is None else delta_texts(base_text, text, 7)
            whole = None
            for raw in msgs:
                whole = parts.feed(session._parse(raw))
            assert whole is not None
            wire, snap = session._apply_snapshot(session._wire, whole)
            session._wire, base_text = wire, text
            got = [to_json(g) for g in snap.goroutines]
            want = [to_json(g) for g in host.goroutines]
            assert [g["id"] for g in got] == [g["id"] for g in want]
            for g, w in zip(got, want, strict=True):  # waits: as predicted, within 100 ms
                assert abs(g.pop("wait_ns") - w.pop("wait_ns")) <= 100_000_000 and g == w

