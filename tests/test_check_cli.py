"""`gotui check` end to end: the real command on real fixtures (never stops them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from gotui.backends.ebpf.loader import unavailable_reason

from tests import gofixtures
from tests.holders_truth import holders_fixture, read_truth

pytestmark = pytest.mark.integration
GOTUI = str(gofixtures.ROOT / ".venv" / "bin" / "gotui")


def gotui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOTUI, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_check_on_the_demo_reports_its_leak_as_a_hint_and_exits_0() -> None:
    exe = gofixtures.build("demo")
    with gofixtures.run(exe, "-addr", "127.0.0.1:0", "-leak-every", "200ms") as t:
        res = gotui("check", str(t.pid), "--duration", "3", "--format", "json")
        assert gofixtures.tracer_pid(t.pid) == 0
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["pid"] == t.pid and data["go_version"].startswith("go1.")
    leaks = [f for f in data["findings"] if f["kind"] == "leak"]
    assert len(leaks) == 1 and not leaks[0]["proof"] and "main.leakLoop" in leaks[0]["summary"]
    assert not [f for f in data["findings"] if f["proof"]]


def test_check_names_a_cycle_as_a_hint_and_fails_on_hint_only() -> None:
    with holders_fixture("go1.26", True) as t:
        read_truth(t)
        plain = gotui("check", str(t.pid), "--duration", "0", "--format", "json")
        strict = gotui("check", str(t.pid), "--duration", "0", "--fail-on", "hint")
    assert plain.returncode == 0 and strict.returncode == 3
    kinds = {f["kind"] for f in json.loads(plain.stdout)["findings"]}
    assert "cycle" in kinds and "deadlock" not in kinds
    assert "[error] cycle: mutex deadlock cycle" in strict.stdout


def test_check_exact_proves_a_lock_order_deadlock_and_exits_3() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"eBPF unavailable on this host: {reason}")
    with holders_fixture("go1.26", True, on_signal=True) as t:
        proc = subprocess.Popen([GOTUI, "check", str(t.pid), "--exact", "--duration", "4",
                                 "--interval", "0.5", "--format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the probes are on: now let the locks be taken
        assert "watching" in line, line
        os.kill(t.pid, signal.SIGUSR2)
        truth = {x["name"]: x for x in read_truth(t)}
        out, err = proc.communicate(timeout=120)
        time.sleep(0.2)
        assert gofixtures.tracer_pid(t.pid) == 0
    assert proc.returncode == 3, err
    proofs = [f for f in json.loads(out)["findings"] if f["proof"]]
    both = sorted(truth["transfer-a"]["holders"] + truth["transfer-b"]["holders"])
    assert [(f["kind"], f["goroutines"]) for f in proofs] == [("deadlock", both)]
    assert all(f"g{i}" in proofs[0]["chain_text"] for i in both)


def test_check_all_covers_every_go_process() -> None:
    basic = gofixtures.build("basic")
    with gofixtures.run(basic) as a, holders_fixture("go1.26", False) as b:
        read_truth(b)
        res = gotui("check", "--all", "--duration", "0", "--format", "json", timeout=300)
        prom = gotui("check", "--all", "--duration", "0", "--format", "prometheus", timeout=300)
    assert res.returncode in (0, 3), res.stderr
    checked = {r["pid"]: r for r in json.loads(res.stdout)}
    assert {a.pid, b.pid} <= checked.keys()
    assert checked[b.pid]["findings"] and "error" not in checked[b.pid]
    assert f'gotui_up{{pid="{a.pid}",exe="basic"}} 1' in prom.stdout
    assert f'gotui_findings{{pid="{b.pid}",exe="holders",kind="cycle",proof="false"}}' in prom.stdout


@pytest.mark.parametrize("args", [(), ("1", "--all"), ("1", "--format", "xml"),
                                  ("1", "--duration", "-1")])
def test_check_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    res = gotui("check", *args)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
