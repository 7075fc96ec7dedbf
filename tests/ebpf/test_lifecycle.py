"""Goroutine lifecycle events on real fixtures built with Go 1.19, 1.26 and 1.27:
every goroutine the fixture creates is seen once, with the right parent, creation
site and start function, and its exit is matched."""

from __future__ import annotations

import os
import signal

import pytest
from gotui.backends.ebpf.trace import Tracer

from tests import gofixtures
from tests.ebpf.conftest import TOOLCHAINS, alive_and_untraced, collect

BATCH = 100


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_created_and_exited_are_exact(need_bpf: None, toolchain: str) -> None:
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("ebpf_spawn", toolchain=toolchain)
    with gofixtures.run(exe, "-batch", str(BATCH)) as target:
        spawner = int(target.ready_line.split("spawner=")[1])
        # A budget of a whole CPU: this test is about accuracy, not the guard.
        with Tracer(target.pid, budget=1.0) as tracer:
            collect(tracer, 0.3)  # drain start-up events
            os.kill(target.pid, signal.SIGUSR1)
            assert target.proc.stdout is not None
            assert target.proc.stdout.readline().strip() == f"SPAWNED {BATCH}"
            events = collect(tracer, 10, until=lambda evs: sum(
                e.type == "exited" and e.data["start"]["function"] == "main.leaf"
                for e in evs) >= BATCH)
        assert not [e for e in events if e.type in ("lost", "guard")]
        created = [e for e in events if e.type == "created"]
        workers = [e for e in created if e.data["start"]["function"] == "main.worker"]
        leaves = [e for e in created if e.data["start"]["function"] == "main.leaf"]
        assert len(workers) == BATCH and len(leaves) == BATCH
        assert {e.parent_id for e in workers} == {spawner}
        assert all(e.data["go_statement"]["function"] == "main.spawner" for e in workers)
        assert all(e.data["go_statement"]["file"].endswith("ebpf_spawn/main.go")
                   for e in workers)
        # each worker starts exactly one leaf
        assert sorted(e.parent_id for e in leaves) == sorted(e.goid for e in workers)
        assert len({e.goid for e in created}) == len(created)  # goids read after assignment
        assert all(e.goid > 0 for e in created)
        exited = {e.goid for e in events if e.type == "exited"}
        assert {e.goid for e in workers + leaves} <= exited
        assert alive_and_untraced(target.pid)


def test_paced_creation_rate_is_counted(need_bpf: None) -> None:
    exe = gofixtures.build("ebpf_spawn")
    with gofixtures.run(exe, "-rate", "200") as target, Tracer(target.pid, budget=1.0) as tr:
        events = collect(tracer=tr, seconds=1.5)
        created = [e for e in events if e.type == "created"
                   and e.data["start"]["function"] == "main.worker"]
        # 200/s for ~1.5 s: never silently far off (a lost event would be reported)
        assert 150 <= len(created) <= 400
        assert not [e for e in events if e.type == "lost"]


def test_deep_mode_reports_channel_blocking(need_bpf: None) -> None:
    exe = gofixtures.build("ebpf_pingpong")
    with gofixtures.run(exe, "-every", "1h") as target, \
            Tracer(target.pid, deep=True, budget=1.0, guard_mode="detach") as tracer:
        events = collect(tracer, 5, until=lambda evs: sum(
            e.type == "blocked" for e in evs) >= 20)
    blocked = [e for e in events if e.type == "blocked" and "op" in e.data]
    assert blocked, "no blocked events with a channel"
    assert {e.data["op"] for e in blocked} <= {"send", "recv"}
    assert all(e.data["wait_reason"].startswith("chan ") for e in blocked)
    assert all(int(e.data["chan"], 16) > 0 for e in blocked)
    assert len({e.data["chan"] for e in blocked}) == 2  # ping and pong
    assert [e for e in events if e.type == "unblocked" and e.data["by"] > 0]
