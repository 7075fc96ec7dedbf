"""The demo service (tests/fixtures/demo): it serves, it has the goroutine shapes the README
promises, and gotui shows them."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import gofixtures
from tests.gofixtures import Target, making_progress, tracer_pid
from tests.tmux import TmuxSession

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def demo(demo_exe: Path) -> Iterator[Target]:
    # port 0: the kernel picks a free port; READY says which
    with gofixtures.run(demo_exe, "-addr", "127.0.0.1:0", "-leak-every", "100ms") as target:
        yield target


def base_url(demo: Target) -> str:
    assert demo.ready_line.startswith("READY http://127.0.0.1:"), demo.ready_line
    return demo.ready_line.split()[1]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return json.load(resp)


def test_profile_endpoint(demo: Target) -> None:
    profile = get_json(base_url(demo) + "/api/v1/profile?user=42")
    assert profile["user_id"] == 42 and profile["name"] == "user-42"


def test_profile_rejects_bad_user(demo: Target) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(base_url(demo) + "/api/v1/profile?user=x", timeout=10)
    assert exc.value.code == 400


def test_self_load_and_leak(demo: Target) -> None:
    """Without outside traffic the service serves itself and leaks goroutines."""
    first = get_json(base_url(demo) + "/api/v1/stats")
    deadline = time.monotonic() + 10
    while True:
        now = get_json(base_url(demo) + "/api/v1/stats")
        if (now["requests"] > first["requests"] and now["leaked"] > first["leaked"]
                and now["processed"] > first["processed"]):
            break
        assert time.monotonic() < deadline, (first, now)
        time.sleep(0.2)


def goroutine_dump(demo: Target) -> str:
    url = base_url(demo) + "/debug/pprof/goroutine?debug=2"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def test_goroutine_layout(demo: Target) -> None:
    """The Go runtime's own view: the shapes the demo promises in its header comment."""
    dump = goroutine_dump(demo)
    blocks = dump.split("\n\n")

    def with_frame(func: str) -> list[str]:
        return [b for b in blocks if f"\n{func}(" in b]

    assert len(with_frame("main.worker")) == 4
    assert len(with_frame("main.contender")) == 4
    assert len(with_frame("main.generate")) == 1
    assert len(with_frame("main.selfLoad")) == 1
    leaks = with_frame("main.leakyFetch")
    assert leaks and all("[chan receive" in b.splitlines()[0] for b in leaks)
    assert all("created by main.leakLoop" in b for b in leaks)
    cgo = with_frame("main._Cfunc_slow_c_call")
    assert len(cgo) == 1 and "[syscall" in cgo[0].splitlines()[0]


def snapshot(gotui: Path, pid: int, *flags: str) -> dict[str, Any]:
    res = subprocess.run([str(gotui), "snapshot", str(pid), "--format", "json", *flags],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return json.loads(res.stdout)


def test_live_snapshot_sees_the_demo(gotui: Path, demo: Target) -> None:
    snap = snapshot(gotui, demo.pid, "--source", "live")
    assert tracer_pid(demo.pid) == 0
    starts = Counter(g["start"]["function"] for g in snap["goroutines"])
    assert starts["main.worker"] == 4 and starts["main.contender"] == 4, starts
    assert starts["main.leakyFetch"] >= 1, starts
    leaks = [g for g in snap["goroutines"] if g["start"]["function"] == "main.leakyFetch"]
    assert all(g["wait_reason"] == "chan receive" for g in leaks), leaks[:2]
    assert all(g["go_statement"]["function"] == "main.leakLoop" for g in leaks), leaks[:2]
    workers = [g for g in snap["goroutines"] if g["labels"].get("role") == "worker"]
    assert sorted(g["labels"]["worker"] for g in workers) == ["0", "1", "2", "3"]
    assert making_progress(demo.pid)


@pytest.mark.usefixtures("need_dlv")
def test_delve_stack_crosses_into_c(gotui: Path, demo: Target) -> None:
    """The goroutine in the long cgo call: its Delve stack has the C frames (C.slow_c_call
    down to sleep) on top of the Go frames that called them."""
    snap = snapshot(gotui, demo.pid, "--source", "delve", "--stacks")
    [g] = [g for g in snap["goroutines"] if g["start"]["function"] == "main.cgoSleeper"]
    assert g["status"] == "syscall"
    frames = [(f["function"], f["kind"]) for f in g["stack"]]
    names = [name for name, _ in frames]
    assert ("C.slow_c_call", "c") in frames, frames
    assert names.index("C.slow_c_call") < names.index("main.slowCCall"), frames
    assert any(kind == "cgo" for _, kind in frames), frames
    assert gofixtures.wait_untraced(demo.pid)
    assert making_progress(demo.pid)


@pytest.mark.usefixtures("need_tmux")
def test_tui_shows_the_leak(gotui: Path, demo: Target) -> None:
    """The live TUI (no Delve) in 80x24: filtering on the leak shows its goroutines,
    parked in chan receive; Ctrl-C exits."""
    with TmuxSession([str(gotui), "attach", str(demo.pid)]) as tui:
        tui.wait_for("RUNNING")
        tui.wait_for("main.generate")  # the goroutine list is filled
        tui.send_keys("/")
        tui.wait_for("filter: text", timeout=10)  # the filter prompt's placeholder
        tui.send_text("leakyFetch")
        tui.send_keys("Enter")
        screen = tui.wait_for(re.compile(r"filter: 'leakyFetch' \d+/\d+"))
        rows = [ln for ln in screen.splitlines() if "main.leakyFetch" in ln]
        assert len(rows) >= 5 and all("chan receive" in ln for ln in rows), screen
        assert tracer_pid(demo.pid) == 0
        tui.send_keys("C-c")
        assert tui.wait_exit(timeout=15) == 0
    assert making_progress(demo.pid)


def test_conditional_breakpoint_fires_on_self_load(demo: Target, need_dlv: str) -> None:
    """The README's example: `userID == 42` in main.profileHandler is hit without any
    outside traffic (plain dlv here; the TUI's breakpoints have their own tests)."""
    src = gofixtures.FIXTURES / "demo" / "main.go"
    line = next(i for i, text in enumerate(src.read_text().splitlines(), 1)
                if "requests.Add(1)" in text)
    script = (f"break {src}:{line}\ncondition 1 userID == 42\ncontinue\nprint userID\n"
              "clear 1\nquit -c\n")
    res = subprocess.run([need_dlv, "attach", str(demo.pid),
                          "--allow-non-terminal-interactive=true"],
                         input=script, capture_output=True, text=True, timeout=120)
    assert re.search(r"^\(dlv\) 42$", res.stdout, flags=re.M), res.stdout[-2000:]
    assert gofixtures.wait_untraced(demo.pid)
    assert making_progress(demo.pid)


def demo_running() -> bool:
    pidfile = gofixtures.ROOT / ".cache" / "demo" / "demo.pid"
    try:
        return Path(f"/proc/{int(pidfile.read_text())}/exe").resolve().name == "demo"
    except (OSError, ValueError):
        return False


@pytest.mark.usefixtures("need_tmux")
def test_make_demo() -> None:
    """README's first command: `make demo` sets up, starts the demo and opens the TUI on
    it; leaving the TUI leaves the demo running; `make demo-stop` stops it."""
    if demo_running():
        pytest.skip("a demo started outside this test is running; not touching it")
    make = ["make", "--no-print-directory", "DEMO_ADDR=127.0.0.1:0"]
    try:
        with TmuxSession([*make, "demo"], cwd=gofixtures.ROOT) as term:
            term.wait_for("RUNNING", timeout=120)
            term.wait_for("main.generate")
            term.send_keys("C-c")
            assert term.wait_exit(timeout=15) == 0
        assert demo_running()
    finally:
        stop = subprocess.run([*make, "demo-stop"], cwd=gofixtures.ROOT, capture_output=True,
                              text=True, timeout=60)
    assert stop.stdout.startswith("demo: stopped pid"), stop.stdout
