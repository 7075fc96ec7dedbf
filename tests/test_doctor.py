"""`gotui doctor` on this machine (set up by tools/setup.sh: everything there), and with
each prerequisite taken away in turn, for real: BCC's bindings, the kernel headers or
tracefs hidden in a private mount namespace, no dlv, no gdb, capabilities dropped. Each
time, one FAIL line names what is missing and what to do, and the exit code is 1."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from gotui.backends import caps
from gotui.backends.doctor import check_privileges, check_ptrace_scope
from gotui.backends.ebpf import bindings, loader
from gotui.backends.ebpf.feed import EbpfFeed
from gotui.backends.isolation import own_home
from gotui.backends.model import Event
from gotui.backends.notices import EventArrived
from gotui.tui.widgets.probe_status import status_text

from tests import gofixtures
from tests.hiding import hiding

GOTUI = str(Path(sys.executable).parent / "gotui")
CHECKS = ["privileges", "ptrace_scope", "bcc", "kernel_headers", "tracefs", "uprobes", "dlv",
          "gdb", "go"]
ALL_CAPS = (1 << 41) - 1
EBPF_AND_PTRACE = ("sys_ptrace", "bpf", "perfmon", "sys_admin")


def doctor(*args: str, prefix: Sequence[str] = (), env: dict[str, str] | None = None,
           cwd: str = "/") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, GOTUI, "doctor", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env={**os.environ, **(env or {})})


def fail_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("FAIL ")]


def test_everything_is_there_on_this_machine() -> None:
    res = doctor()
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines[:-1]] == [f"ok   {name}" for name in CHECKS]
    assert lines[-1] == "doctor: every gotui feature works on this host"
    assert "BCC 0.26" in lines[2] and "/usr/lib/python3/dist-packages/bcc" in lines[2]
    assert "Delve 1.27.2" in lines[6] and "supports Go 1.25-1.27" in lines[6]


def test_json_with_a_target() -> None:
    exe = gofixtures.build("basic")
    with gofixtures.run(exe) as target:
        res = doctor("--pid", str(target.pid), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is True and report["pid"] == target.pid
    assert [c["name"] for c in report["checks"]] == [*CHECKS, "target"]
    assert all(c["ok"] and c["fix"] == "" for c in report["checks"])
    tgt = report["checks"][-1]["detail"]
    assert f"pid {target.pid} ({exe}): go1.26" in tgt and "Delve 1.27.2 supports it" in tgt


def test_target_delve_cannot_debug() -> None:
    """A Go 1.19 program: the live view can read it, the installed Delve refuses it."""
    exe = gofixtures.build("basic", toolchain="go1.19")
    with gofixtures.run(exe) as target:
        res = doctor("--pid", str(target.pid))
    assert res.returncode == 1
    (line,) = fail_lines(res.stdout)
    assert line.startswith(f"FAIL target: pid {target.pid} ({exe}): go1.19")
    assert "Delve 1.27.2 does not support Go 1.19 (Go 1.25-1.27)" in line


def test_not_a_go_process() -> None:
    res = doctor("--pid", str(os.getpid()))
    assert res.returncode == 1
    (line,) = fail_lines(res.stdout)
    assert line.startswith(f"FAIL target: pid {os.getpid()} (") and "is not a Go program" in line


def _without(program: str) -> str:
    """$PATH without the directories that hold `program`."""
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not os.access(os.path.join(d, program), os.X_OK))


def _tracefs_dirs() -> list[str]:
    return [str(d.parent if d.parent.name == "debug" else d) for d in loader.TRACEFS_DIRS
            if (d / "uprobe_events").exists()]


@pytest.mark.parametrize("missing", ["bcc", "kernel_headers", "tracefs", "dlv", "gdb",
                                     "privileges"])
def test_one_prerequisite_missing(missing: str, tmp_path: Path) -> None:
    prefix: list[str] = []
    env: dict[str, str] = {}
    expect: tuple[str, ...]
    if missing == "bcc":
        prefix = hiding([bindings.DISTRO_BCC], [])
        expect = ("BCC's Python bindings are missing", "install the distro package python3-bpfcc")
    elif missing == "kernel_headers":
        prefix = hiding([f"/lib/modules/{platform.release()}"], [])
        expect = ("no kernel headers at", f"install linux-headers-{platform.release()}")
    elif missing == "tracefs":
        prefix = hiding(_tracefs_dirs(), [])
        expect = ("tracefs is not mounted", "mount -t tracefs nodev /sys/kernel/tracing")
    elif missing == "dlv":
        env = {"PATH": _without("dlv"), "GOPATH": str(tmp_path),
               "GOTUI_DLV": str(tmp_path / "nowhere" / "dlv")}
        expect = (f"GOTUI_DLV={tmp_path}/nowhere/dlv is not an executable file",
                  "go install github.com/go-delve/delve/cmd/dlv@v1.27.2")
    elif missing == "gdb":
        env = {"PATH": _without("gdb")}
        expect = ("gdb not found on PATH", "apt install gdb")
    else:
        drop = ",".join(f"-{c}" for c in EBPF_AND_PTRACE)
        prefix = ["setpriv", "--bounding-set", drop, "--inh-caps", drop]
        expect = ("root, effective capabilities: none of those gotui uses",
                  "lacks CAP_SYS_PTRACE, CAP_BPF, CAP_PERFMON")
    res = doctor(prefix=prefix, env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr == ""
    (line,) = fail_lines(res.stdout)  # that one thing, and nothing else, is missing
    assert line.startswith(f"FAIL {missing}: "), line
    assert all(part in line for part in expect), line
    assert res.stdout.splitlines()[-1] == f"doctor: 1 missing ({missing}): see the FAIL lines"


def test_trace_says_tracefs_is_not_mounted() -> None:
    """eBPF counted tracefs as there when its mount point existed, mounted or not; libbcc
    then attached probes that it could not take off (it writes uprobe_events)."""
    code = ("from gotui.backends.ebpf.loader import unavailable_reason; "
            "print(unavailable_reason())")
    res = subprocess.run(hiding(_tracefs_dirs(), [sys.executable, "-c", code]),
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert res.stdout.strip() == ("tracefs is not mounted: "
                                  "mount -t tracefs nodev /sys/kernel/tracing"), res


def test_ptrace_scope_lines() -> None:
    everything = ALL_CAPS
    no_ptrace = ALL_CAPS & ~(1 << caps.CAP_SYS_PTRACE)
    assert check_ptrace_scope(None, no_ptrace).ok
    assert check_ptrace_scope(0, no_ptrace).ok
    assert check_ptrace_scope(1, everything).ok and check_ptrace_scope(2, everything).ok
    one = check_ptrace_scope(1, no_ptrace)
    assert not one.ok and "sysctl kernel.yama.ptrace_scope=0" in one.fix
    two = check_ptrace_scope(2, no_ptrace)
    assert not two.ok and "CAP_SYS_PTRACE" in two.fix
    three = check_ptrace_scope(3, everything)
    assert not three.ok and "reboot" in three.fix and "not even root" in three.detail


def test_privileges_lines() -> None:
    user = check_privileges(1000, 0)
    assert not user.ok and user.detail.startswith("uid 1000 (not root)")
    assert "run gotui as root" in user.fix
    # before Linux 5.8 (no CAP_BPF/CAP_PERFMON), CAP_SYS_ADMIN is what eBPF needs
    old_kernel_root = (1 << caps.CAP_SYS_PTRACE) | (1 << caps.CAP_SYS_ADMIN)
    assert check_privileges(0, old_kernel_root).ok
    no_bpf = ALL_CAPS & ~(1 << caps.CAP_BPF) & ~(1 << caps.CAP_SYS_ADMIN)
    assert "lacks CAP_BPF " in check_privileges(0, no_bpf).fix


async def test_tui_points_to_doctor_when_the_host_lacks_ebpf(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader.os, "geteuid", lambda: 1000)

    class HostCheckedTracer:  # what the helper process's Tracer does first
        def __init__(self, *_args: object, **_kwargs: object) -> None:
            pass

        def start(self) -> None:
            loader.check_environment()

        def close(self) -> None:
            pass

    feed = EbpfFeed(os.getpid(), tracer_factory=HostCheckedTracer)  # type: ignore[arg-type]
    published: list[Event] = []
    feed.start(lambda n: published.append(n.event) if isinstance(n, EventArrived) else None)
    for _ in range(200):
        if any(not e.data.get("available", True) for e in published):
            break
        await asyncio.sleep(0.02)
    feed.close()
    ev = next(e for e in published if not e.data.get("available", True))
    assert status_text(ev).plain.startswith(
        "eBPF off (see gotui doctor): eBPF tracing needs root (CAP_BPF and CAP_PERFMON)")
    # not the host: no pointer
    off = EbpfFeed.disabled(os.getpid(), "disabled by --no-ebpf")
    published.clear()
    off.start(lambda n: published.append(n.event) if isinstance(n, EventArrived) else None)
    assert status_text(published[0]).plain.startswith("eBPF off: disabled by --no-ebpf")


def test_trusted_location_only(tmp_path: Path) -> None:
    """As root, the distro's bindings are loaded by path only from where nobody but
    root can write: not from under /tmp, not with a group-writable file."""
    assert bindings.untrusted_reason(bindings.DISTRO_BCC) is None
    in_tmp = tmp_path / "bcc"
    shutil.copytree(bindings.DISTRO_BCC, in_tmp, ignore=shutil.ignore_patterns("__pycache__"))
    refused = bindings.load_from(in_tmp)
    assert refused.module is None and "/tmp is writable by others" in refused.problem
    # a place only root can write, wherever the checkout is (a clone under /tmp is not):
    # root's own home (0700)
    base = Path(tempfile.mkdtemp(prefix="gotui-bcc-trust-", dir=own_home()))
    try:
        shutil.copytree(bindings.DISTRO_BCC, base / "bcc",
                        ignore=shutil.ignore_patterns("__pycache__"))
        assert bindings.untrusted_reason(base / "bcc") is None, f"{own_home()} is not root's"
        (base / "bcc" / "table.py").chmod(0o664)
        why = bindings.untrusted_reason(base / "bcc")
        assert why == f"{base.resolve()}/bcc/table.py is writable by its group"
        (base / "bcc" / "table.py").chmod(0o644)
        (base / "bcc" / "_x.cpython-27-x86_64-linux-gnu.so").write_bytes(b"")
        foreign = bindings.load_from(base / "bcc")
        assert foreign.module is None and "compiled module for another Python" in foreign.problem
        assert "pipx install --system-site-packages --python /usr/bin/python3" in foreign.fix
    finally:
        shutil.rmtree(base, ignore_errors=True)
