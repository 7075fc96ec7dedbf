"""eBPF tests run real uprobes on real Go fixtures; they skip (with the reason) only
where eBPF cannot work on this host (not root, no BCC, no kernel headers...)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from gotui.backends.ebpf.loader import unavailable_reason
from gotui.backends.ebpf.trace import Tracer
from gotui.backends.model import Event

from tests import gofixtures

TOOLCHAINS = ["go1.19", "go1.26", "go1.27"]


@pytest.fixture
def need_bpf() -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"eBPF unavailable on this host: {reason}")


def collect(tracer: Tracer, seconds: float,
            until: Callable[[list[Event]], bool] | None = None) -> list[Event]:
    """Poll the tracer for up to `seconds` (less if `until` says so)."""
    events: list[Event] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events += tracer.poll(0.1)
        if until is not None and until(events):
            break
    return events


def wait_for(cond: Callable[[], bool], timeout: float) -> bool:
    """Whether `cond()` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def alive_and_untraced(pid: int) -> bool:
    """The target still runs (not stopped, not a zombie) and nobody ptraces it."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return stat[0] not in ("t", "T", "Z", "X") and gofixtures.tracer_pid(pid) == 0
