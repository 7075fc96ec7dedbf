"""`gotui check`: the Findings of one or every Go process, without the TUI and without
stopping anything, as JSON, text or the Prometheus text exposition format (for
node_exporter's textfile collector).

A check reads the process live for `duration` seconds (a snapshot every `interval`
s: the leak and orphaned-wait rules compare snapshots), then runs the analysis on
the last one. With `exact`, eBPF watches every sync.Mutex hand-over meanwhile: locks
taken during the window get exact holders, so a lock-order deadlock that forms then
is proven; locks taken before it started are inferred, never proven.

Exit status (cmd_check): 0 when no finding reaches --fail-on, 3 when one does, 1 on
error (with --all: only when no process could be checked), 2 on a usage error.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gotui.backends.analysis import findings, is_system, summarize
from gotui.backends.model import Finding, GotuiError, Snapshot, to_json
from gotui.backends.waitfor import chain_text

EXIT_FINDINGS = 3
FAIL_ON = ("proof", "hint")
MAX_SITES = 50  # creation-site series per process in the Prometheus output


@dataclass
class CheckResult:
    pid: int
    exe: str = ""
    go_version: str = ""
    taken_at: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    snapshot: Snapshot | None = None
    error: str = ""
    exact: str = ""  # what became of exact holder tracking ("" when not asked)


def public_kind(f: Finding) -> str:
    """The finding kind of the check contract: a deadlock proven (all goroutines
    asleep, or a cycle of observed links) is "deadlock", a cycle that is a hint is
    "cycle"; the others as in the model, with underscores."""
    if f.kind == "deadlock":
        return "deadlock" if f.proof else "cycle"
    return f.kind.replace("-", "_")


def finding_json(f: Finding) -> dict[str, Any]:
    return {"kind": public_kind(f), "proof": f.proof, "severity": f.severity,
            "goroutines": list(f.goroutines), "summary": f.title, "message": f.message,
            "chain": to_json(f.chain), "chain_text": chain_text(f.chain),
            "channels": list(f.channels), "locks": list(f.locks)}


def result_json(r: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {"pid": r.pid, "exe": r.exe, "go_version": r.go_version,
                           "taken_at": r.taken_at,
                           "findings": [finding_json(f) for f in r.findings]}
    if r.error:
        out["error"] = r.error
    if r.exact:
        out["exact_holders"] = r.exact
    return out


def fails(r: CheckResult, fail_on: str) -> bool:
    return any(f.proof or fail_on == "hint" for f in r.findings)


def check_pid(pid: int, *, duration: float = 5.0, interval: float = 1.0,
              exact: bool = False, progress: Callable[[str], None] | None = None
              ) -> CheckResult:
    """One process: live snapshots over `duration` s, then its findings."""
    from gotui.backends.factory import open_live
    from gotui.backends.procinfo import process_facts, require_go

    require_go(process_facts(pid))
    live = open_live(pid)
    tracker = None
    result = CheckResult(pid, live.info.exe, live.info.go_version)
    try:
        if exact:
            tracker, result.exact = _tracker(pid)
            live.exact = tracker  # type: ignore[attr-defined]
            if progress is not None:
                progress(f"pid {pid}: {result.exact}"
                         + (f"; watching for {duration:g} s" if tracker is not None else ""))
        history = []
        deadline = time.monotonic() + max(0.0, duration)
        snap = live.snapshot()
        while time.monotonic() < deadline:
            history.append(summarize(snap))
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            snap = live.snapshot()
        result.taken_at = snap.taken_at
        result.findings = findings(snap, history)
        result.snapshot = snap
        if tracker is not None:
            result.exact = tracker.status
    finally:
        live.close()
        if tracker is not None:
            tracker.close()
    return result


def _tracker(pid: int) -> tuple[Any, str]:
    from gotui.backends.ebpf.holders import HolderTracker

    tracker = HolderTracker(pid)
    try:
        tracker.start()
    except GotuiError as exc:
        tracker.close()
        return None, str(exc)
    return tracker, tracker.status


def check_all(**kwargs: Any) -> list[CheckResult]:
    """Every Go process as `gotui ps` lists them (but this one)."""
    from gotui.backends.factory import list_go_processes

    out = []
    for p in list_go_processes():
        if p.pid == os.getpid():
            continue
        try:
            out.append(check_pid(p.pid, **kwargs))
        except GotuiError as exc:
            out.append(CheckResult(p.pid, p.exe, p.go_version, time.time(), error=str(exc)))
    return out


# ------------------------------------------------------------ text

def to_text(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        head = f"pid {r.pid} {os.path.basename(r.exe)} {r.go_version}".rstrip()
        if r.error:
            lines.append(f"{head}: error: {r.error}")
            continue
        n = len(r.findings)
        proofs = sum(1 for f in r.findings if f.proof)
        lines.append(f"{head}: {n} finding{'s' if n != 1 else ''}"
                     + (f" ({proofs} proven)" if proofs else ""))
        for f in r.findings:
            lines.append(f"  [{'proof' if f.proof else f.severity}] {public_kind(f)}: {f.title}")
            words = chain_text(f.chain)
            if words:
                lines.append(f"      {words}")
        if r.exact:
            lines.append(f"  ({r.exact})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ Prometheus

def escape_label(value: str) -> str:
    """A label value in the text exposition format: \\ " and newlines escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in kv.items()) + "}"


def to_prometheus(results: list[CheckResult]) -> str:
    """gotui_up, gotui_goroutines{state, site} (the MAX_SITES biggest creation sites
    per process, the rest as site="other"), gotui_findings{kind, proof}."""
    out = ["# HELP gotui_up 1 if gotui could read the process, 0 if not.",
           "# TYPE gotui_up gauge"]
    for r in results:
        out.append(f"gotui_up{_labels(pid=str(r.pid), exe=os.path.basename(r.exe))} "
                   f"{0 if r.error else 1}")
    out += ["# HELP gotui_goroutines Goroutines by state and creation site (go statement).",
            "# TYPE gotui_goroutines gauge"]
    for r in results:
        if r.snapshot is None:
            continue
        counts: Counter[tuple[str, str]] = Counter()
        for g in r.snapshot.goroutines:
            if g.status == "dead":
                continue
            state = g.wait_reason if g.status == "waiting" and g.wait_reason else g.status
            site = ("runtime" if is_system(g) else
                    g.go_statement.short() if g.go_statement.function else "main")
            counts[(state, site)] += 1
        per_site: Counter[str] = Counter()
        for (_, site), n in counts.items():
            per_site[site] += n
        keep = {s for s, _ in per_site.most_common(MAX_SITES)}
        folded: Counter[tuple[str, str]] = Counter()
        for (state, site), n in counts.items():
            folded[(state, site if site in keep else "other")] += n
        for (state, site), n in sorted(folded.items()):
            out.append(f"gotui_goroutines{_labels(pid=str(r.pid), exe=os.path.basename(r.exe), state=state, site=site)} {n}")
    out += ["# HELP gotui_findings Findings of the wait-for analysis by kind.",
            "# TYPE gotui_findings gauge"]
    for r in results:
        kinds: Counter[tuple[str, bool]] = Counter((public_kind(f), f.proof) for f in r.findings)
        for (kind, proof), n in sorted(kinds.items()):
            out.append(f"gotui_findings{_labels(pid=str(r.pid), exe=os.path.basename(r.exe), kind=kind, proof=str(proof).lower())} {n}")
    return "\n".join(out) + "\n"


def render(results: list[CheckResult], fmt: str, many: bool) -> str:
    if fmt == "json":
        data: Any = [result_json(r) for r in results] if many else result_json(results[0])
        return json.dumps(data) + "\n"
    if fmt == "prometheus":
        return to_prometheus(results)
    return to_text(results)


def exit_code(results: list[CheckResult], fail_on: str) -> int:
    if results and all(r.error for r in results):
        return 1
    return EXIT_FINDINGS if any(fails(r, fail_on) for r in results) else 0

