"""`gotui doctor`: what this host offers gotui, one check per line, and for each one
that fails, what to install or change.

Each check asks the code that needs the thing (the eBPF loader's checks, find_dlv,
the gdb command gotui runs, the demo's `go` lookup), so doctor and the product agree.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from gotui.backends import caps
from gotui.backends.ebpf import loader
from gotui.backends.ebpf.loader import HostProblem
from gotui.backends.model import GotuiError, HostCheck, HostReport

YAMA = Path("/proc/sys/kernel/yama/ptrace_scope")
LIVE_AND_STOP = "the live view and Delve/gdb attach"
EBPF = "eBPF (lifecycle probes, gotui trace)"
DLV_INSTALL = "go install github.com/go-delve/delve/cmd/dlv@v1.27.2 (or set GOTUI_DLV)"
TOOL_SECONDS = 10


def check_privileges(euid: int, mask: int) -> HostCheck:
    have = [n for c, n in caps.NAMES.items() if caps.has(mask, c)]
    who = "root" if euid == 0 else f"uid {euid} (not root)"
    detail = f"{who}, effective capabilities: {', '.join(have) or 'none of those gotui uses'}"
    missing = caps.ebpf_missing(mask)
    if not caps.has(mask, caps.CAP_SYS_PTRACE):
        missing.insert(0, "CAP_SYS_PTRACE")
    if euid == 0 and not missing:
        return HostCheck("privileges", True, detail, needed_for=f"{LIVE_AND_STOP}, {EBPF}")
    if euid != 0:
        fix = ("run gotui as root (sudo): eBPF needs root, and reading or attaching to "
               "another user's process needs CAP_SYS_PTRACE")
    else:
        fix = (f"this root process lacks {', '.join(missing)} (a restricted container, or "
               "capabilities dropped): run gotui with them")
    return HostCheck("privileges", False, detail, fix, f"{LIVE_AND_STOP}, {EBPF}")


def check_ptrace_scope(scope: int | None, mask: int) -> HostCheck:
    """kernel.yama.ptrace_scope (None: no Yama). It also guards /proc/<pid>/mem reads."""
    need = LIVE_AND_STOP
    ptrace = caps.has(mask, caps.CAP_SYS_PTRACE)
    if scope is None:
        return HostCheck("ptrace_scope", True, "no Yama LSM: ptrace limited by uid and "
                         "CAP_SYS_PTRACE only", needed_for=need)
    detail = f"kernel.yama.ptrace_scope = {scope}"
    if scope == 0 or (scope in (1, 2) and ptrace):
        return HostCheck("ptrace_scope", True, detail + (" (CAP_SYS_PTRACE overrides it)"
                                                         if scope else ""), needed_for=need)
    if scope in (1, 2):
        return HostCheck("ptrace_scope", False, detail + ": only CAP_SYS_PTRACE may attach",
                         "run gotui as root, or sysctl kernel.yama.ptrace_scope=0" if scope == 1
                         else "run gotui as root (CAP_SYS_PTRACE)", need)
    return HostCheck("ptrace_scope", False, detail + ": nobody may attach, not even root",
                     "set kernel.yama.ptrace_scope=1 in /etc/sysctl.d and reboot (3 is "
                     "final until reboot)", need)


def read_ptrace_scope() -> int | None:
    try:
        return int(YAMA.read_text().strip())
    except (OSError, ValueError):
        return None


def check_bcc() -> HostCheck:
    from gotui.backends.ebpf import bindings

    found = bindings.locate()
    if found.module is None:
        return HostCheck("bcc", False, found.problem, found.fix, EBPF)
    version = getattr(found.module, "__version__", "?")
    how = ("loaded from the distro's copy (not on this Python's path)" if found.how == "distro"
           else "importable")
    return HostCheck("bcc", True, f"BCC {version} bindings {how}: {found.origin}",
                     needed_for=EBPF)


def check_ebpf_host(name: str, ok_detail: str, problem: HostProblem | None) -> HostCheck:
    if problem is None:
        return HostCheck(name, True, ok_detail, needed_for=EBPF)
    return HostCheck(name, False, problem.what, problem.fix, EBPF)


def check_dlv(go_minor: int = 0) -> tuple[HostCheck, str]:
    """The dlv check, and the Delve line for a target of Go 1.<go_minor> ("" if n/a)."""
    from gotui.backends.delve.dlvinfo import read_dlv
    from gotui.backends.delve.process import find_dlv

    need = "halting, breakpoints, eval, --source delve (Delve)"
    try:
        path = find_dlv()
    except GotuiError:
        where = os.environ.get("GOTUI_DLV")
        detail = "dlv not found" + (f" (GOTUI_DLV={where} is not an executable file)"
                                    if where else " on PATH or in $GOPATH/bin")
        return HostCheck("dlv", False, detail, DLV_INSTALL, need), ""
    try:
        info = read_dlv(path)
    except GotuiError as exc:
        return HostCheck("dlv", False, f"{path}: {exc}", DLV_INSTALL, need), ""
    rng = info.go_range() or "supported Go versions unknown (stripped binary)"
    check = HostCheck("dlv", True, f"Delve {info.version or '?'} at {path}, supports {rng}",
                      needed_for=need)
    target = ""
    ok = info.supports(go_minor)
    if ok is not None:
        target = (f"Delve {info.version} supports it" if ok else
                  f"Delve {info.version} does not support Go 1.{go_minor} ({rng}): use the "
                  "live view, --backend gdb, or --no-check-go-version")
    return check, target


def check_gdb() -> HostCheck:
    from gotui.backends.gdb.mi import find_gdb

    need = "--backend gdb, --source gdb, core files with gdb"
    if shutil.which("gdb") is None:
        return HostCheck("gdb", False, "gdb not found on PATH",
                         "install gdb (apt install gdb)", need)
    try:
        path = find_gdb()  # the lookup gotui itself makes, with its checks as root
    except GotuiError as exc:
        return HostCheck("gdb", False, str(exc), "use a gdb owned by root, writable only "
                         "by root", need)
    try:
        res = subprocess.run([path, "--nx", "--batch", "-ex", "python print('gotui-python-ok')",
                              "-ex", "show version"], capture_output=True, text=True,
                             timeout=TOOL_SECONDS, stdin=subprocess.DEVNULL, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return HostCheck("gdb", False, f"{path} does not run ({exc})", "reinstall gdb", need)
    version = next((ln for ln in res.stdout.splitlines() if ln.startswith("GNU gdb")), "gdb")
    if "gotui-python-ok" not in res.stdout:
        return HostCheck("gdb", False, f"{version} at {path} has no Python support",
                         "install a gdb built with Python (Debian's gdb package is)", need)
    return HostCheck("gdb", True, f"{version} at {path}, with Python", needed_for=need)


def check_go() -> HostCheck:
    from gotui.backends.demo import find_go
    from gotui.backends.gobinary.buildinfo import go_version_of_file

    go = find_go()
    if go is None:
        return HostCheck("go", False, "no go on PATH or in /usr/local/go/bin",
                         "install Go (https://go.dev/dl) to run `gotui demo`", "gotui demo",
                         required=False)
    version = go_version_of_file(os.path.realpath(go)) or "go (version unknown)"
    return HostCheck("go", True, f"{version} at {go}", needed_for="gotui demo", required=False)


def check_target(pid: int, dlv_line: str, go_minor: int, go_version: str) -> HostCheck:
    from gotui.backends.procinfo import process_facts

    need = "gotui attach/snapshot on this pid"
    try:
        facts = process_facts(pid)
    except GotuiError as exc:
        return HostCheck("target", False, str(exc), "pick a Go process this user may read "
                         "(gotui ps lists them)", need)
    head = f"pid {pid} ({facts.exe})"
    if not go_version:
        return HostCheck("target", False, f"{head} is not a Go program (no Go build info)",
                         "pick a Go process (gotui ps)", need)
    problems: list[str] = []
    try:
        with open(f"/proc/{pid}/mem", "rb"):
            pass
    except OSError as exc:
        problems.append(f"/proc/{pid}/mem not readable ({exc.strerror})")
    if facts.tracer_pid:
        problems.append(f"traced by pid {facts.tracer_pid} ({facts.tracer_name})")
    parts = [f"{head}: {go_version}", *problems]
    if dlv_line:
        parts.append(dlv_line)
    ok = not problems and "does not support" not in dlv_line
    fix = ""
    if problems:
        fix = "run gotui as root; detach the other debugger" if facts.tracer_pid \
            else "run gotui as root (CAP_SYS_PTRACE)"
    elif not ok:
        fix = "install a Delve that supports it, or use the live view / --backend gdb"
    return HostCheck("target", ok, ", ".join(parts), fix, need)


def run_checks(pid: int | None = None) -> HostReport:
    from gotui.backends.gobinary.buildinfo import go_version_of_file, minor_of

    mask = caps.effective()
    go_version = go_version_of_file(f"/proc/{pid}/exe") if pid is not None else ""
    go_minor = minor_of(go_version)
    dlv, dlv_line = check_dlv(go_minor)
    checks = [
        check_privileges(os.geteuid(), mask),
        check_ptrace_scope(read_ptrace_scope(), mask),
        check_bcc(),
        check_ebpf_host("kernel_headers", f"kernel headers for {platform.release()} at "
                        f"{loader.kernel_headers()}", loader.headers_problem()),
        check_ebpf_host("tracefs", "tracefs is mounted", loader.tracefs_problem()),
        check_ebpf_host("uprobes", "the kernel has uprobes", loader.uprobes_problem()),
        dlv,
        check_gdb(),
        check_go(),
    ]
    if pid is not None:
        checks.append(check_target(pid, dlv_line, go_minor, go_version))
    return HostReport(ok=all(c.ok or not c.required for c in checks), checks=checks, pid=pid)


def to_text(report: HostReport) -> str:
    """One line per check, then one line that sums up."""
    lines = []
    for c in report.checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        line = f"{mark} {c.name}: {c.detail}"
        if not c.ok:
            line += f" -> {c.fix}" if c.fix else ""
            line += f" [needed for {c.needed_for}]" if c.needed_for else ""
        lines.append(line)
    failed = [c.name for c in report.checks if not c.ok and c.required]
    lines.append("doctor: every gotui feature works on this host" if report.ok
                 else f"doctor: {len(failed)} missing ({', '.join(failed)}): see the FAIL lines")
    return "\n".join(lines) + "\n"
