"""The one-shot commands of the CLI contract (DESIGN.md §3) through the installed `gotui`,
on the basic fixture: `ps --json`, `snapshot --source live|delve --format json|text|...`."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import gofixtures
from tests.gofixtures import Target, making_progress, tracer_pid, tracer_process, wait_untraced

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# the basic fixture's defaults: start function -> (count, wait reason)
PARKED = {
    "main.receiver": (3, "chan receive"),
    "main.sender": (2, "chan send"),
    "main.sleeper": (2, "sleep"),
}


def run(gotui: Path, *args: str) -> str:
    res = subprocess.run([str(gotui), *args], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "" or "Traceback" not in res.stderr
    return res.stdout


def snapshot_json(gotui: Path, pid: int, source: str) -> dict[str, Any]:
    return json.loads(run(gotui, "snapshot", str(pid), "--source", source, "--format", "json"))


def by_start(snap: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return [g for g in snap["goroutines"] if g["start"]["function"] == function]


def test_ps_json_lists_go_processes_only(gotui: Path, basic_target: Target) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        procs = json.loads(run(gotui, "ps", "--json"))
    finally:
        sleeper.kill()
        sleeper.wait()
    mine = [p for p in procs if p["pid"] == basic_target.pid]
    assert len(mine) == 1, procs
    assert mine[0]["exe"] == str(basic_target.exe)
    assert mine[0]["go_version"].startswith("go1.26")
    assert mine[0]["traced_by"] == 0
    assert sleeper.pid not in {p["pid"] for p in procs}


@pytest.mark.parametrize("source", ["live", "delve"])
def test_snapshot_json_shows_the_parked_goroutines(gotui: Path, basic_target: Target,
                                                   source: str, request: pytest.FixtureRequest
                                                   ) -> None:
    if source == "delve":
        request.getfixturevalue("need_dlv")
    snap = snapshot_json(gotui, basic_target.pid, source)
    assert snap["pid"] == basic_target.pid and snap["source"] == source
    assert snap["go_version"].startswith("go1.26")
    for function, (count, reason) in PARKED.items():
        gs = by_start(snap, function)
        assert len(gs) == count, (function, Counter(g["start"]["function"]
                                                    for g in snap["goroutines"]))
        assert {g["status"] for g in gs} == {"waiting"}, gs
        assert {g["wait_reason"] for g in gs} == {reason}, gs
        assert {g["go_statement"]["function"] for g in gs} == {"main.main"}, gs
    receivers = by_start(snap, "main.receiver")
    assert {g["blocked_on"]["op"] for g in receivers} == {"recv"}
    assert len({g["blocked_on"]["chan"] for g in receivers}) == 1, "one shared channel"
    ticker = by_start(snap, "main.ticker")
    assert len(ticker) == 1 and ticker[0]["labels"] == {"role": "ticker"}
    # never leaves the target traced or stopped
    assert wait_untraced(basic_target.pid, timeout=5)
    assert making_progress(basic_target.pid)


@pytest.mark.usefixtures("need_dlv")
def test_live_and_delve_agree_on_goroutine_ids(gotui: Path, basic_target: Target) -> None:
    live = snapshot_json(gotui, basic_target.pid, "live")
    delve = snapshot_json(gotui, basic_target.pid, "delve")

    def parked_ids(snap: dict[str, Any]) -> dict[str, set[int]]:
        return {f: {g["id"] for g in by_start(snap, f)} for f in PARKED}

    assert parked_ids(live) == parked_ids(delve)
    assert tracer_pid(basic_target.pid) == 0


def test_snapshot_text_and_goroutine_dump(gotui: Path, basic_target: Target) -> None:
    text = run(gotui, "snapshot", str(basic_target.pid), "--format", "text")
    assert "main.receiver" in text
    dump = run(gotui, "snapshot", str(basic_target.pid), "--format", "goroutine-dump")
    headers = re.findall(r"^goroutine (\d+) \[([^\]]+)\]:$", dump, flags=re.M)
    reasons = Counter(reason.split(",")[0] for _, reason in headers)
    assert reasons["chan receive"] >= 3 and reasons["chan send"] >= 2, reasons
    assert tracer_pid(basic_target.pid) == 0


def test_ps_json_names_the_tracer(gotui: Path, traced_target: Target) -> None:
    procs = json.loads(run(gotui, "ps", "--json"))
    [mine] = [p for p in procs if p["pid"] == traced_target.pid]
    assert mine["traced_by"] == tracer_process(traced_target.pid) != 0


@pytest.mark.parametrize(("toolchain", "stripped"), [
    ("go1.19", False), ("go1.27", False), ("go1.26", True)])
def test_live_snapshot_across_builds(gotui: Path, toolchain: str, stripped: bool) -> None:
    """Other Go versions and a stripped (-s -w) binary: the live view still finds the
    parked goroutines by their start function."""
    gofixtures.need_toolchain(toolchain)
    exe = gofixtures.build("basic", toolchain=toolchain, stripped=stripped)
    with gofixtures.run(exe) as target:
        snap = snapshot_json(gotui, target.pid, "live")
        for function, (count, reason) in PARKED.items():
            gs = by_start(snap, function)
            assert len(gs) == count, (function, Counter(g["start"]["function"]
                                                        for g in snap["goroutines"]))
            assert {g["wait_reason"] for g in gs} == {reason}, gs
        assert tracer_pid(target.pid) == 0
