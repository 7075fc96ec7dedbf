"""The capabilities this process runs with (CapEff in /proc/self/status)."""

from __future__ import annotations

from pathlib import Path

CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
NAMES = {CAP_SYS_PTRACE: "CAP_SYS_PTRACE", CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
         CAP_PERFMON: "CAP_PERFMON", CAP_BPF: "CAP_BPF"}


def effective(status_path: str = "/proc/self/status") -> int:
    """The effective capability mask (0 if it cannot be read)."""
    try:
        for line in Path(status_path).read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def has(mask: int, cap: int) -> bool:
    return bool(mask >> cap & 1)


def ebpf_missing(mask: int) -> list[str]:
    """What loading BPF programs on uprobes still needs: CAP_BPF and CAP_PERFMON (Linux
    5.8+), either of which CAP_SYS_ADMIN covers."""
    if has(mask, CAP_SYS_ADMIN):
        return []
    return [NAMES[c] for c in (CAP_BPF, CAP_PERFMON) if not has(mask, c)]
