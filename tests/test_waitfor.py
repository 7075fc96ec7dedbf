"""The wait-for graph, chains and proofs (backends/waitfor.py) and `gotui check`'s
renderings (backends/check.py), on synthetic snapshots."""

from __future__ import annotations

from gotui.backends.analysis import findings
from gotui.backends.check import (
    CheckResult,
    escape_label,
    exit_code,
    public_kind,
    result_json,
    to_prometheus,
)
from gotui.backends.model import BlockedOn, Channel, Goroutine, Holding, Location, Lock, Snapshot
from gotui.backends.waitfor import chain_of, chain_text


def g(goid: int, reason: str = "", *, lock: str = "", chan: str = "", op: str = "recv",
      refs: tuple[str, ...] = (), status: str = "waiting", wait_ns: int = 0) -> Goroutine:
    wait = BlockedOn(chan, op) if chan else None  # type: ignore[arg-type]
    return Goroutine(goid, status=status, wait_reason=reason, wait_ns=wait_ns,
                     start=Location(f"main.f{goid}"), blocked_on=wait,
                     waiting_on=[wait] if wait else [], blocked_on_lock=lock,
                     stack_refs=list(refs), user_current=Location(f"main.f{goid}", "m.go", goid),
                     go_statement=Location("main.main", "m.go", 1))


def main_g() -> Goroutine:
    return Goroutine(1, wait_reason="sleep", start=Location("runtime.main"))


def held(addr: str, waiters: list[int], holders: list[int], basis: str,
         held_ns: int = 0) -> Lock:
    return Lock(addr, "mutex", waiters=waiters, holders=holders, holders_basis=basis,
                holding=[Holding(h, basis, held_ns, Location("main.transfer", "/x/main.go", 88))
                         for h in holders])


def lock_order(basis_a: str, basis_b: str) -> Snapshot:
    return Snapshot(pid=7, goroutines=[main_g(), g(5, "sync.Mutex.Lock", lock="0xb"),
                                       g(6, "sync.Mutex.Lock", lock="0xa")],
                    locks=[held("0xa", [6], [5], basis_a, 3_000_000_000),
                           held("0xb", [5], [6], basis_b)])


def test_a_cycle_of_observed_holders_is_a_proof() -> None:
    (f,) = findings(lock_order("exact", "exact"))
    assert (f.kind, f.proof, f.goroutines) == ("deadlock", True, [5, 6])
    assert "proof" in f.title and public_kind(f) == "deadlock"
    assert [s.goroutine for s in f.chain] == [5, 6] and f.chain[-1].cycle


def test_one_inferred_holder_makes_it_a_hint_that_names_it() -> None:
    (f,) = findings(lock_order("exact", "inferred"))
    assert (f.kind, f.proof) == ("deadlock", False) and public_kind(f) == "cycle"
    assert "Inferred, not observed: mutex 0xb" in f.message


def test_chain_in_words() -> None:
    s = lock_order("exact", "inferred")
    text = chain_text(chain_of(s, 6))
    assert text == ("g6 waits for mutex 0xa held by g5 (main.transfer main.go:88, holding ≥ 3s, "
                    "seen), which waits for mutex 0xb held by g6 (main.transfer main.go:88, "
                    "inferred): a cycle")


def test_a_holder_stuck_on_a_channel_only_the_waiter_could_send_to() -> None:
    s = Snapshot(pid=7, goroutines=[
        main_g(), g(12, "sync.Mutex.Lock", lock="0xm", refs=("0xc",)),
        g(40, "chan receive", chan="0xc", wait_ns=5_000_000_000)],
        channels=[Channel("0xc", "int", receivers=[40])],
        locks=[held("0xm", [12], [40], "inferred", 5_000_000_000)])
    text = chain_text(chain_of(s, 12))
    assert text == ("g12 waits for mutex 0xm held by g40 (main.transfer main.go:88, holding ≥ 5s, "
                    "inferred), which waits to receive on chan 0xc that only g12 could send "
                    "to (inferred): a cycle")
    (f,) = [f for f in findings(s) if f.kind == "deadlock"]
    assert not f.proof and f.goroutines == [12, 40]


def test_a_holder_that_sleeps_ends_the_chain_and_is_no_finding() -> None:
    s = Snapshot(pid=7, goroutines=[main_g(), g(12, "sync.Mutex.Lock", lock="0xm"),
                                    g(40, "sleep")],
                 locks=[held("0xm", [12], [40], "inferred")])
    assert chain_text(chain_of(s, 12)).endswith("which sleeps")
    assert findings(s) == []


def test_prometheus_labels_are_escaped_and_sites_capped() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    gs = [main_g()] + [Goroutine(i, wait_reason="sleep", start=Location("main.w"),
                                 go_statement=Location(f'main.f"{i}', "x.go", i))
                       for i in range(2, 80)]
    r = CheckResult(9, "/bin/srv", "go1.26.1", 1.0, [], Snapshot(pid=9, goroutines=gs))
    text = to_prometheus([r])
    series = [ln for ln in text.splitlines() if ln.startswith("gotui_goroutines{")]
    assert len(series) == 50 + 1  # 50 sites, the rest folded into site="other"
    assert any('site="other"' in ln for ln in series)
    assert 'site="main.f\\"2 x.go:2"' in text and 'gotui_up{pid="9",exe="srv"} 1' in text


def test_check_exit_codes_and_json() -> None:
    proof = findings(lock_order("exact", "exact"))
    hint = findings(lock_order("inferred", "inferred"))
    assert exit_code([CheckResult(1, findings=proof)], "proof") == 3
    assert exit_code([CheckResult(1, findings=hint)], "proof") == 0
    assert exit_code([CheckResult(1, findings=hint)], "hint") == 3
    assert exit_code([CheckResult(1, error="gone")], "proof") == 1
    data = result_json(CheckResult(1, "/x", "go1.26", 2.0, proof))
    assert set(data) == {"pid", "exe", "go_version", "taken_at", "findings"}
    (f,) = data["findings"]
    assert {"kind", "proof", "severity", "goroutines", "summary", "chain"} <= set(f)
    assert f["chain"][0]["waits_for"] == {"kind": "mutex", "addr": "0xb", "op": "lock"}
