"""The eBPF helper process (backends/ebpf/helper.py): BCC never loads in gotui's own
process; the helper is spawned isolated; it dies with gotui however gotui ends (also
SIGKILL, also while BCC still compiles), leaving no probe or program; its own death is
said in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
from gotui.backends import notices
from gotui.backends.ebpf.feed import EbpfFeed
from gotui.backends.model import Event

from tests import gofixtures
from tests.ebpf.conftest import alive_and_untraced, wait_for
from tests.ebpf.test_cleanup import UPROBE_EVENTS, our_programs

ROOT = Path(__file__).resolve().parent.parent.parent


def mapped(pid: int, name: str) -> bool:
    return name in Path(f"/proc/{pid}/maps").read_text()


async def running_feed(pid: int, seen: list[Event]) -> EbpfFeed:
    feed = EbpfFeed(pid)
    feed.start(lambda notice: seen.append(notice.event)
               if isinstance(notice, notices.EventArrived) else None)
    deadline = time.monotonic() + 90
    while not feed.running:
        assert time.monotonic() < deadline, [e.message for e in seen]
        await asyncio.sleep(0.05)
    return feed


def test_bcc_runs_in_an_isolated_helper_not_in_gotui(need_bpf: None) -> None:
    """gotui's process (a clean one: this test's has imported bcc to check the host)
    never maps libbcc; the helper does, spawned with -I from "/" without PYTHON*."""
    exe = gofixtures.build("ebpf_spawn")
    before = our_programs()
    with gofixtures.run(exe, "-rate", "20") as target:
        gotui = subprocess.Popen([sys.executable, "-c", SCRIPT, str(target.pid), "report"],
                                 cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert gotui.stdout is not None and gotui.stdin is not None
            helper = psutil.Process(int(gotui.stdout.readline().split()[1]))
            assert gotui.stdout.readline().strip() == "RUNNING"
            report = gotui.stdout.readline().split()
            assert report == ["LIBBCC", "False", "MODULE", "False", "EVENTS", "True",
                              "TRACEPOINT", "True"], report
            assert mapped(helper.pid, "libbcc")
            cmd = helper.cmdline()
            assert cmd[:4] == [sys.executable, "-I", "-m", "gotui.backends.ebpf.helper"]
            assert helper.cwd() == "/"
            assert not any(k.startswith("PYTHON") for k in helper.environ())
            assert os.getsid(helper.pid) != os.getsid(gotui.pid)  # not its terminal's
            assert len(our_programs() - before) >= 2
            gotui.stdin.close()  # the script closes the feed and exits
            assert gotui.stdout.readline().strip() == "HELPER_EXIT 0"
            assert gotui.wait(timeout=30) == 0
            assert not helper.is_running()
        finally:
            gotui.kill()
            gotui.wait()
        assert our_programs() <= before
        assert alive_and_untraced(target.pid)


SCRIPT = textwrap.dedent("""
    import asyncio, os, sys, time
    from gotui.backends import notices
    from gotui.backends.ebpf.feed import EbpfFeed

    async def main():
        seen = []
        feed = EbpfFeed(int(sys.argv[1]))
        feed.start(lambda notice: seen.append(notice.event)
                   if isinstance(notice, notices.EventArrived) else None)
        while feed.helper is None:
            await asyncio.sleep(0.01)
        print("HELPER", feed.helper.pid, flush=True)
        if sys.argv[2] == "compiling":
            await asyncio.sleep(600)
        while not feed.running:
            await asyncio.sleep(0.05)
        print("RUNNING", flush=True)
        if sys.argv[2] == "running":
            await asyncio.sleep(600)
        for _ in range(100):  # lifecycle events crossed the pipe
            if any(e.type == "created" for e in seen):
                break
            await asyncio.sleep(0.1)
        key = await feed.add_tracepoint("main.leaf", "")
        for _ in range(100):
            if any(e.type == "tracepoint" for e in seen):
                break
            await asyncio.sleep(0.1)
        await feed.remove_tracepoint(key)
        libbcc = "libbcc" in open(f"/proc/{os.getpid()}/maps").read()
        print("LIBBCC", libbcc, "MODULE", "bcc" in sys.modules,
              "EVENTS", any(e.type == "created" for e in seen),
              "TRACEPOINT", any(e.type == "tracepoint" for e in seen), flush=True)
        await asyncio.to_thread(sys.stdin.read)
        await asyncio.to_thread(feed.close)
        print("HELPER_EXIT", feed.helper.wait(10), flush=True)

    asyncio.run(main())
""")



def test_sigkilled_gotui_takes_the_helper_and_its_probes_along(need_bpf: None) -> None:
    exe = gofixtures.build("basic")
    before_progs = our_programs()
    before_events = UPROBE_EVENTS.read_text()
    with gofixtures.run(exe) as target:
        for when in ("compiling", "running"):
            gotui = subprocess.Popen([sys.executable, "-c", SCRIPT, str(target.pid), when],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
            try:
                assert gotui.stdout is not None
                helper = int(gotui.stdout.readline().split()[1])
                if when == "running":
                    assert gotui.stdout.readline().strip() == "RUNNING"
                    assert len(our_programs() - before_progs) >= 2
            finally:
                os.kill(gotui.pid, signal.SIGKILL)
                gotui.wait(timeout=30)
            assert wait_for(lambda: not psutil.pid_exists(helper)  # noqa: B023
                            or psutil.Process(helper).status() == "zombie", 20), when  # noqa: B023
            assert wait_for(lambda: not (our_programs() - before_progs), 20), when
            assert UPROBE_EVENTS.read_text() == before_events
        assert alive_and_untraced(target.pid) and gofixtures.making_progress(target.pid)


async def test_a_helper_that_dies_is_said_in_one_line(need_bpf: None) -> None:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as target:
        seen: list[Event] = []
        feed = await running_feed(target.pid, seen)
        assert feed.helper is not None
        feed.helper.kill()
        deadline = time.monotonic() + 30
        while feed.running or feed.off_reason is None:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # the off event is delivered on the loop
        assert feed.status is not None and feed.status.data["available"] is False
        assert feed.status.message.startswith("the eBPF helper exited")
        assert "\n" not in feed.status.message
        feed.close()
        assert alive_and_untraced(target.pid)
