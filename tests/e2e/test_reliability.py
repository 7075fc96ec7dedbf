"""50 randomized trials of attach -> (halt | breakpoint | live) -> a random way to die.

After every death the target must be untraced within 2 s and still making progress.
Each trial has its own seed (printed with its choices); replay one trial with
GOTUI_RELIABILITY_TRIAL=<seed>, a whole run with GOTUI_RELIABILITY_SEED=<base>.

"q" is the TUI's own way out, so those trials drive `gotui attach --delve` in tmux.
All others, signals included, drive `gotui share --headless` over its websocket (the
TUI is not the point of a signal; both share one signal handler and exit watchdog,
tui/cli.py exit_signals): the same Session, Delve guard and exit paths, ten times
faster to set up. Mode "live" attaches Delve too (target running, no breakpoint), so
that every way to die, SIGKILL of dlv included, applies to every mode. The breakpoint
is on main.hot (hit every ms) with a condition that is never true: Delve traps all
the time.

Known limit: SIGKILL of dlv while a breakpoint is hit every ms kills the target (SIGTRAP,
measured 6 of 7): the kernel detaches the threads dlv held in a breakpoint stop and
delivers their pending SIGTRAP; the guard can put the code back but cannot take back a
signal already queued; those trials arm a breakpoint that is never hit (main.locker).

Fixed bug, kept covered by test_headless_signals_with_breakpoint: `gotui share
--headless` with a breakpoint armed sometimes stayed attached > 16 s after
SIGINT/SIGTERM/SIGHUP. The share server's close waited for its snapshot loop, which
on Python 3.11 could swallow the cancel (asyncio.wait_for returns the inner result
when the cancel lands as the event it waits for is set) and never ended; the target
was released only after the server had closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests import gofixtures
from tests.e2e.terminal import dlv_child, quit_dialog_enter
from tests.gofixtures import Target, making_progress, tracer_pid, wait_untraced
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.usefixtures("need_tmux", "need_dlv")]

TRIALS = 50
WORKERS = 2  # targets driven at once, one trial after another on each
MODES = ("halt", "breakpoint", "live")
DEATHS = ("q", "SIGINT", "SIGTERM", "SIGHUP", "SIGKILL-gotui", "SIGKILL-dlv")
RELEASE_S = 2.0
ORDERLY_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
HOT_BREAKPOINT = {"function": "main.hot", "cond": "i < 0"}
# main.locker is never entered again once the fixture is READY; armed instead of
# main.hot when dlv itself is SIGKILLed (the known limit in the docstring)
COLD_BREAKPOINT = {"function": "main.locker"}


@dataclass(frozen=True)
class Trial:
    seed: int
    mode: str
    death: str

    @classmethod
    def from_seed(cls, seed: int) -> Trial:
        rng = random.Random(seed)
        return cls(seed, rng.choice(MODES), rng.choice(DEATHS))

    def __str__(self) -> str:
        return f"seed={self.seed} mode={self.mode} death={self.death}"


def plan() -> list[Trial]:
    one = os.environ.get("GOTUI_RELIABILITY_TRIAL")
    if one:
        return [Trial.from_seed(int(one))]
    base = int(os.environ.get("GOTUI_RELIABILITY_SEED") or time.time_ns() % 1_000_000)
    print(f"reliability base seed {base} (GOTUI_RELIABILITY_SEED={base} replays the run)")
    return [Trial.from_seed(base * 100 + i) for i in range(TRIALS)]


# ----------------------------------------------------------------- headless share

class Headless:
    """`gotui share <pid> --headless` and a driver's websocket to it."""

    def __init__(self, gotui: Path, pid: int) -> None:
        self.proc = subprocess.Popen(
            [str(gotui), "share", str(pid), "--listen", "127.0.0.1:0", "--headless"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"gotui share printed nothing: {self.proc.stderr.read() if self.proc.stderr else ''}"
        info = json.loads(line)
        self.ws: ClientConnection = connect(
            info["url"], additional_headers={"Authorization": f"Bearer {info['driver_token']}"},
            max_size=None, open_timeout=10).__enter__()
        self._id = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def command(self, name: str, **args: Any) -> Any:
        self._id += 1
        self.ws.send(json.dumps({"type": "command", "name": name, "args": args,
                                 "id": self._id}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv(timeout=deadline - time.monotonic()))
            if msg.get("id") == self._id and msg["type"] in ("result", "error"):
                assert msg["type"] == "result", f"{name}: {msg}"
                return msg.get("value")
        raise AssertionError(f"no answer to {name}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def run_headless(gotui: Path, target: Target, trial: Trial) -> str:
    host = Headless(gotui, target.pid)
    try:
        host.command("ensure_stop")
        if trial.mode == "halt":
            host.command("halt")
            assert not making_progress(target.pid, within=0.5), "halted target still runs"
        elif trial.mode == "breakpoint":
            cold = trial.death == "SIGKILL-dlv"
            host.command("create_breakpoint",
                         breakpoint=COLD_BREAKPOINT if cold else HOT_BREAKPOINT)
        assert tracer_pid(target.pid) != 0, "Delve is not attached"
        if trial.death == "SIGKILL-dlv":
            dlv_child(host.pid).kill()
        else:
            sig = signal.SIGKILL if trial.death == "SIGKILL-gotui" else signal.Signals[trial.death]
            os.kill(host.pid, sig)
        return check_released(target, trial)
    finally:
        host.close()


# ----------------------------------------------------------------- TUI in tmux

def run_tui(gotui: Path, target: Target, trial: Trial) -> str:
    with TmuxSession([str(gotui), "attach", str(target.pid), "--delve", "--no-ebpf"]) as tui:
        tui.wait_for("RUNNING")
        tui.wait_for("main.receiver")
        if trial.mode == "halt":
            tui.send_keys("h")
            tui.wait_for("HALTED")
        elif trial.mode == "breakpoint":
            tui.send_keys("b")
            tui.wait_for("New breakpoint")
            for text in (HOT_BREAKPOINT["function"], HOT_BREAKPOINT["cond"]):
                tui.send_text(text)
                tui.wait_for(text, timeout=10)
                time.sleep(0.3)  # the form settles before the next field (see test_breakpoint_exit)
                if text == HOT_BREAKPOINT["function"]:
                    tui.send_keys("Tab")
                    time.sleep(0.3)
            tui.send_keys("Enter")
            tui.wait_gone("New breakpoint", timeout=15)
        assert tracer_pid(target.pid) != 0, "Delve is not attached"
        if trial.death == "q":
            quit_dialog_enter(tui)
        else:
            os.kill(tui.pid, signal.Signals[trial.death])
        return check_released(target, trial)


# ----------------------------------------------------------------- the check

def check_released(target: Target, trial: Trial) -> str:
    """'' if the target came out untraced in time and runs on, else why not."""
    if not wait_untraced(target.pid, timeout=RELEASE_S):
        return f"still traced by {tracer_pid(target.pid)} {RELEASE_S} s after {trial.death}"
    if not making_progress(target.pid, within=2.0):
        state = Path(f"/proc/{target.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return f"untraced but not making progress (state {state}, exit {target.proc.poll()})"
    if target.proc.poll() is not None:
        return f"target died (status {target.proc.returncode})"
    return ""


def run_trial(gotui: Path, target: Target, trial: Trial) -> str:
    runner = run_tui if trial.death == "q" else run_headless
    try:
        return runner(gotui, target, trial)
    except Exception as exc:  # noqa: BLE001 - reported per trial, with its seed
        return f"{type(exc).__name__}: {str(exc)[:2500]}"


def worker(gotui: Path, exe: Path, trials: list[Trial]) -> list[tuple[Trial, str, float]]:
    out: list[tuple[Trial, str, float]] = []
    stack = contextlib.ExitStack()
    target = stack.enter_context(gofixtures.run(exe))
    try:
        for trial in trials:
            started = time.monotonic()
            failure = run_trial(gotui, target, trial)
            out.append((trial, failure, time.monotonic() - started))
            print(f"{trial}: {'ok' if not failure else 'FAILED: ' + failure} "
                  f"({time.monotonic() - started:.1f} s)", flush=True)
            if failure:  # a hurt target would fail every later trial: start a new one
                stack.close()
                stack = contextlib.ExitStack()
                target = stack.enter_context(gofixtures.run(exe))
    finally:
        stack.close()
    return out


def test_fifty_random_deaths(gotui: Path, basic_exe: Path) -> None:
    trials = plan()
    with ThreadPoolExecutor(WORKERS) as pool:
        jobs = [pool.submit(worker, gotui, basic_exe, trials[i::WORKERS])
                for i in range(WORKERS)]
        results = [r for job in jobs for r in job.result()]
    tally = Counter((t.mode, t.death, not failure) for t, failure, _ in results)
    print("tally (mode, death, ok): " + ", ".join(
        f"{m}/{d}/{'ok' if ok else 'FAIL'}={n}" for (m, d, ok), n in sorted(tally.items())))
    print(f"slowest trial {max(s for *_, s in results):.1f} s")
    failures = [f"{t}: {failure}" for t, failure, _ in results if failure]
    assert not failures, (f"{len(results) - len(failures)}/{len(results)} released; "
                          "failed:\n" + "\n".join(failures))


# ----------------------------------------------------------------- regression

REGRESSION_ATTEMPTS = 6  # two at a time: the bug showed most with two hosts at once


def headless_signal_attempt(gotui: Path, target: Target, n: int) -> str:
    """Headless share, a breakpoint armed (hot or cold), an orderly signal: '' if the
    target is released in time and gotui exits on its own with status 0."""
    sig = signal.Signals[ORDERLY_SIGNALS[n % len(ORDERLY_SIGNALS)]]
    bp = HOT_BREAKPOINT if n % 2 else COLD_BREAKPOINT
    trial = Trial(n, "breakpoint", sig.name)
    host = Headless(gotui, target.pid)
    try:
        host.command("ensure_stop")
        host.command("create_breakpoint", breakpoint=bp)
        assert tracer_pid(target.pid) != 0, "Delve is not attached"
        os.kill(host.pid, sig)
        failure = check_released(target, trial)
        if not failure:
            # status 1 would mean the exit watchdog had to cut a stuck shutdown
            status = host.proc.wait(timeout=20)
            failure = f"gotui exited with {status} after {sig.name}" if status else ""
        return f"{sig.name} {bp['function']}: {failure}" if failure else ""
    finally:
        host.close()


def test_headless_signals_with_breakpoint(gotui: Path, basic_exe: Path) -> None:
    def attempts(first: int) -> list[str]:
        with gofixtures.run(basic_exe) as target:
            return [headless_signal_attempt(gotui, target, n)
                    for n in range(first, REGRESSION_ATTEMPTS, WORKERS)]

    with ThreadPoolExecutor(WORKERS) as pool:
        failures = [f for job in [pool.submit(attempts, i) for i in range(WORKERS)]
                    for f in job.result() if f]
    assert not failures, "\n".join(failures)
