"""Every way out leaves the target running and untraced (DESIGN.md §5)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gotui.backends.delve.backend import DelveBackend
from gotui.backends.delve.guard import GuardProcess
from gotui.backends.delve.process import (
    DlvProcess,
    check_target,
    find_dlv,
    sigtrap_pending,
    tracer_of,
)
from gotui.backends.delve.rpc import DelveRPC
from gotui.backends.model import Breakpoint, GotuiError

from tests import gofixtures

from .conftest import requires_dlv
from .progress import counter_advancing, signal_pending, until, until_running

pytestmark = [pytest.mark.integration, requires_dlv]

ROOT = Path(__file__).resolve().parent.parent.parent
MAIN_GO = ROOT / "tests" / "fixtures" / "basic" / "main.go"


def assert_released(target: gofixtures.Target) -> None:
    assert gofixtures.wait_untraced(target.pid, timeout=10), f"pid {target.pid} still traced"
    assert target.proc.poll() is None, "the target died"
    assert counter_advancing(target.pid, target.exe), "the target's ticker does not run"


async def test_detach_after_halt(backend: DelveBackend, target: gofixtures.Target) -> None:
    run = asyncio.create_task(backend.cont())
    await until_running(backend, target.pid, target.exe)
    await backend.halt()
    await asyncio.wait_for(run, 10)
    await backend.detach()
    assert_released(target)
    assert backend._guard is not None and backend._guard.proc.returncode is not None


async def test_detach_while_running_with_breakpoint(backend: DelveBackend,
                                                    target: gofixtures.Target) -> None:
    # a breakpoint that never stops (hit condition far away) is hit every millisecond
    await backend.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 1000000"))
    run = asyncio.create_task(backend.cont())
    await until_running(backend, target.pid, target.exe)  # main.hot runs: hit every ms
    await backend.detach()  # halts, detaches (Delve removes its breakpoints)
    assert run.done()
    assert_released(target)  # the counter moves: main.hot ran past its old int3
    assert target.proc.poll() is None  # no stray int3 left to kill it


async def test_detach_flushes_a_queued_halt_sigtrap(backend: DelveBackend,
                                                    target: gofixtures.Target) -> None:
    # Delve halts with kill(pid, SIGTRAP). When that races with a breakpoint stop
    # the signal stays queued on the stopped target, and after a plain detach the Go
    # runtime dies of it. Queue one deterministically, as the race does.
    await backend.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 1000000"))
    os.kill(target.pid, signal.SIGTRAP)
    assert sigtrap_pending(target.pid)
    await backend.detach()
    assert_released(target)
    assert not sigtrap_pending(target.pid)


async def test_detach_twice_is_harmless(backend: DelveBackend, target: gofixtures.Target) -> None:
    await backend.detach()
    await backend.detach()
    assert_released(target)


CLIENT = textwrap.dedent("""
    import asyncio, sys, time
    sys.path.insert(0, {root!r})
    from gotui.backends.delve.backend import DelveBackend
    from gotui.backends.delve.process import tracer_of
    from gotui.backends.model import Breakpoint

    async def main():
        b = DelveBackend.for_pid({pid})
        await b.start()
        if {hot}:
            await b.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 1000000"))
        if {running}:
            asyncio.get_running_loop().create_task(b.cont())
            while not (await b.state()).running:
                await asyncio.sleep(0.02)
        print("ATTACHED", tracer_of({pid}), b._guard.proc.pid, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


@pytest.mark.parametrize("running, hot", [(False, False), (True, False), (True, True)],
                         ids=["halted", "running", "running-hot-breakpoint"])
def test_sigkill_of_the_client_process(target: gofixtures.Target, running: bool,
                                       hot: bool) -> None:
    # hot: a breakpoint hit every ms that never stops. Without the guard, dlv's own
    # halt+detach on disconnect killed the target in 4 of 8 runs (queued SIGTRAP).
    code = CLIENT.format(root=str(ROOT), pid=target.pid, running=running, hot=hot)
    client = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout is not None
        line = client.stdout.readline()
        assert line.startswith("ATTACHED"), line
        dlv_pid, guard_pid = int(line.split()[1]), int(line.split()[2])
        client.send_signal(signal.SIGKILL)
        client.wait(10)
        assert_released(target)
        assert wait_gone(dlv_pid) and wait_gone(guard_pid)
    finally:
        client.kill()
        client.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
async def test_guard_signalled_releases_the_target(target: gofixtures.Target,
                                                   sig: signal.Signals) -> None:
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        await b.create_breakpoint(Breakpoint(function="main.hot", hit_cond="> 1000000"))
        run = asyncio.create_task(b.cont())
        await until_running(b, target.pid, target.exe)
        assert b._guard is not None
        os.kill(b._guard.proc.pid, sig)
        with contextlib.suppress(GotuiError):
            await asyncio.wait_for(run, 20)
        assert_released(target)
    finally:
        await b.detach()


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True  # reaped between the two looks
        if state == "Z":
            return True  # exited; its parent (the dead client's reaper) collects it
        import time
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("running", [False, True], ids=["halted", "running"])
async def test_dlv_killed(target: gofixtures.Target, sig: signal.Signals, running: bool) -> None:
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        run = asyncio.create_task(b.cont()) if running else None
        if running:
            await until_running(b, target.pid, target.exe)
        os.kill(tracer_of(target.pid), sig)
        if run is not None:
            try:
                await asyncio.wait_for(run, 10)  # SIGTERM: dlv halts, answers, detaches
            except GotuiError:
                pass  # SIGKILL: the connection drops
        assert_released(target)
    finally:
        await asyncio.wait_for(b.detach(), 30)
    assert_released(target)


def test_refuses_an_already_traced_pid(target: gofixtures.Target) -> None:
    helper = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import ctypes, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        PTRACE_SEIZE = 0x4206  # attaches without stopping the tracee
        if libc.ptrace(PTRACE_SEIZE, {target.pid}, 0, 0) != 0:
            print("FAIL", ctypes.get_errno(), flush=True); sys.exit(1)
        print("TRACING", flush=True)
        time.sleep(3600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert helper.stdout is not None
        assert helper.stdout.readline().strip() == "TRACING"
        with pytest.raises(GotuiError) as err:
            check_target(target.pid)
        assert str(err.value).startswith(
            f"pid {target.pid} is already traced by pid {helper.pid} (")
    finally:
        helper.kill()
        helper.wait(10)
    assert_released(target)


async def test_refuses_a_stripped_binary() -> None:
    exe = gofixtures.build("basic", stripped=True)
    with gofixtures.run(exe) as t:
        with pytest.raises(GotuiError, match="Delve needs DWARF; use the live view"):
            await DelveBackend.for_pid(t.pid).start()
        assert gofixtures.tracer_pid(t.pid) == 0


def test_refuses_non_go_and_unknown_pids() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        with pytest.raises(GotuiError, match="is not a Go program"):
            check_target(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(GotuiError, match=f"no process with pid {proc.pid}"):
        check_target(proc.pid)


def test_dlv_not_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("PATH", "GOPATH", "HOME"):
        monkeypatch.setenv(var, str(tmp_path))
    monkeypatch.delenv("GOTUI_DLV", raising=False)
    # ~/go/bin is looked up in the effective user's own home, not $HOME
    monkeypatch.setattr("gotui.backends.delve.process.own_home", lambda: str(tmp_path))
    with pytest.raises(GotuiError) as err:
        find_dlv()
    assert str(err.value) == ("dlv not found: run `make demo` or "
                              "`go install github.com/go-delve/delve/cmd/dlv@v1.27.2`")


async def test_go_version_outside_delves_range() -> None:
    gofixtures.need_toolchain("go1.19")
    exe = gofixtures.build("basic", toolchain="go1.19")
    with gofixtures.run(exe) as t:
        with pytest.raises(GotuiError) as err:
            await DelveBackend.for_pid(t.pid).start()
        assert str(err.value).startswith("Go version 1.19")
        assert "--check-go-version=false" in str(err.value) and "\n" not in str(err.value)
        assert_released(t)


async def test_connect_to_an_existing_headless_delve(target: gofixtures.Target) -> None:
    dlv = await asyncio.create_subprocess_exec(
        find_dlv(), "attach", str(target.pid), "--headless", "--api-version=2",
        "--listen=127.0.0.1:0", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        assert dlv.stdout is not None
        line = (await asyncio.wait_for(dlv.stdout.readline(), 30)).decode()
        address = line.split("at:")[1].strip()
        b = DelveBackend.for_address(address)
        await b.start()
        try:
            assert b.info.pid == target.pid and b.info.exe == str(target.exe)
            assert b.info.go_version.startswith("go1.26")
            assert len(await b.goroutines()) >= 14
        finally:
            await b.detach()
        await asyncio.wait_for(dlv.wait(), 15)  # without multiclient dlv exits
    finally:
        if dlv.returncode is None:
            dlv.kill()
            await dlv.wait()
    assert_released(target)


async def test_dlv_failure_is_reported_in_one_line() -> None:
    # dlv prints its listen line before attaching; the failure shows on the first call
    dlv = await DlvProcess.spawn(2**22 + 12345)  # above pid_max: nobody has it
    try:
        with pytest.raises(GotuiError):
            rpc = await DelveRPC.connect(dlv.address)
            await rpc.call("GetVersion")
        reason = await dlv.failure()
    finally:
        await dlv.stop()
    assert "\n" not in reason and reason.startswith("could not attach to pid")
    # the guard waits for the attach and passes dlv's words on
    with pytest.raises(GotuiError) as err:
        await GuardProcess.spawn(2**22 + 12345)
    assert str(err.value) == reason


async def test_target_left_in_group_stop_is_continued(target: gofixtures.Target) -> None:
    # A SIGSTOP queued while traced is delivered when the tracer dies: measured, the
    # target then sits in state T untraced. Reaping dlv must SIGCONT it.
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    dlv = tracer_of(target.pid)
    os.kill(target.pid, signal.SIGSTOP)
    await until(lambda: signal_pending(target.pid, signal.SIGSTOP), "SIGSTOP queued")
    os.kill(dlv, signal.SIGKILL)
    await b.detach()
    assert_released(target)


async def test_target_exit_while_continuing(backend: DelveBackend,
                                            target: gofixtures.Target) -> None:
    run = asyncio.create_task(backend.cont())
    await until_running(backend, target.pid, target.exe)
    os.kill(target.pid, signal.SIGTERM)  # Delve passes it on; the Go program dies of it
    st = await asyncio.wait_for(run, 20)
    assert st.exited and not st.running
    assert (await backend.state()).exited
    await backend.detach()
    assert target.proc.wait(10) != 0


def code_byte(pid: int, addr: int) -> int:
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        return mem.read(1)[0]


@pytest.mark.parametrize("running", [False, True], ids=["halted", "running"])
async def test_int3_put_back_when_dlv_is_killed(target: gofixtures.Target,
                                                running: bool) -> None:
    # SIGKILLed dlv cannot remove its breakpoints; a later hit would kill the
    # untraced target with SIGTRAP. Use a breakpoint that is never hit (a receiver
    # that never receives) so the check is deterministic.
    b = DelveBackend.for_pid(target.pid)
    await b.start()
    try:
        line = next(n for n, text in enumerate(MAIN_GO.read_text().splitlines(), 1)
                    if text.strip() == "fmt.Println(id, v)")
        bp = await b.create_breakpoint(Breakpoint(file=str(MAIN_GO), line=line))
        [addr] = bp.addrs
        assert code_byte(target.pid, addr) == 0xCC
        run = asyncio.create_task(b.cont()) if running else None
        if running:
            await until_running(b, target.pid, target.exe)
        os.kill(tracer_of(target.pid), signal.SIGKILL)
        with pytest.raises(GotuiError):  # the guard rescues, then closes on us
            if run is not None:
                await asyncio.wait_for(run, 10)
            else:
                await asyncio.wait_for(b.rpc.wait_closed(), 10)
        assert code_byte(target.pid, addr) != 0xCC
    finally:
        await b.detach()
    assert_released(target)


def test_guard_released_when_gotui_dies_before_connecting(target: gofixtures.Target,
                                                          tmp_path: Path) -> None:
    """gotui SIGKILLed during the attach: the guard has attached but nobody ever
    connects, so no connection drops; the guard notices it was orphaned."""
    sockdir = tmp_path / "guard"
    sockdir.mkdir(mode=0o700)
    # the parent reads the guard's listen line, then dies without connecting
    code = textwrap.dedent(f"""
        import os, subprocess, sys
        guard = subprocess.Popen(
            [sys.executable, "-m", "gotui.backends.delve.guard", "--pid", "{target.pid}",
             "--dir", "{sockdir}"], stdout=subprocess.PIPE, text=True,
            start_new_session=True, cwd="{ROOT}")
        print(guard.pid, guard.stdout.readline().strip(), flush=True)
        os._exit(0)
    """)
    parent = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    guard_pid, listening = parent.stdout.split(" ", 1)
    assert listening.startswith("GUARD listening at:"), parent.stdout + parent.stderr
    assert_released(target)
    assert wait_gone(int(guard_pid))
