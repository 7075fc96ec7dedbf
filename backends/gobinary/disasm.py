"""amd64 instructions of Go functions, decoded with Capstone (linear sweep from the
function's entry: Go puts no data in its text, so every boundary found is a real one).

Used where a wrong boundary would matter: uprobes must sit on instruction boundaries
(a probe in the middle of an instruction corrupts the target), and the lock-site
analysis reads operands (the receiver of an inlined Lock, a CALL's target)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

LOCK_PREFIX = 0xF0


@dataclass(frozen=True)
class Mem:
    base: str  # register name ("rdx", "rip"...); "" when none
    index: str
    scale: int
    disp: int


@dataclass(frozen=True)
class Insn:
    addr: int
    size: int
    mnemonic: str  # "lock cmpxchg" is "cmpxchg" with lock=True
    lock: bool
    mem: Mem | None  # the memory operand, if any
    target: int | None  # CALL/JMP/Jcc immediate target
    dest_reg: str  # first operand when it is a register ("" otherwise)
    writes: frozenset[str] = frozenset()  # registers it writes, 64-bit names ("rax")
    src_reg: str = ""  # second operand when it is a register
    imm: int | None = None  # second operand when it is an immediate

    @property
    def next(self) -> int:
        return self.addr + self.size

    def rip_target(self) -> int | None:
        """Address a RIP-relative memory operand points to."""
        if self.mem is None or self.mem.base != "rip" or self.mem.index:
            return None
        return self.next + self.mem.disp


ALL_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
            *(f"r{i}" for i in range(8, 16)))
_LEGACY = {"a": "rax", "b": "rbx", "c": "rcx", "d": "rdx", "si": "rsi", "di": "rdi",
           "bp": "rbp", "sp": "rsp"}


def reg64(name: str) -> str:
    """The 64-bit register a register name is part of: eax -> rax, r8d -> r8, sil -> rsi."""
    if name.startswith("r") and name[1:2].isdigit():
        return "r" + "".join(ch for ch in name[1:] if ch.isdigit())
    base = name.removeprefix("r").removeprefix("e")
    for suffix in ("x", "l", "h"):
        if len(base) == 2 and base.endswith(suffix) and base[0] in "abcd":
            return _LEGACY[base[0]]
    base = base.rstrip("l")
    return _LEGACY.get(base, name)


@lru_cache(maxsize=1)
def _engine() -> Any:
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    return md


def available() -> bool:
    try:
        _engine()
    except ImportError:
        return False
    return True


def instructions(code: bytes, addr: int) -> list[Insn]:
    """Every instruction of `code` (loaded at `addr`), stopping at the first byte that
    does not decode."""
    import capstone.x86 as x86

    md = _engine()
    out: list[Insn] = []
    for ins in md.disasm(code, addr):
        mem = None
        target = None
        dest = ""
        ops = ins.operands
        for k, op in enumerate(ops):
            if op.type == x86.X86_OP_MEM and mem is None:
                m = op.mem
                mem = Mem(ins.reg_name(m.base) if m.base else "",
                          ins.reg_name(m.index) if m.index else "", m.scale, m.disp)
            elif op.type == x86.X86_OP_IMM and ins.group(1) | ins.group(2) | ins.group(7):
                target = op.imm  # jump, call, relative branch groups
            if k == 0 and op.type == x86.X86_OP_REG:
                dest = ins.reg_name(op.reg)
        src = ins.reg_name(ops[1].reg) if len(ops) > 1 and ops[1].type == x86.X86_OP_REG else ""
        imm = ops[1].imm if len(ops) > 1 and ops[1].type == x86.X86_OP_IMM else None
        try:
            written = frozenset(reg64(ins.reg_name(r)) for r in ins.regs_access()[1])
        except Exception:  # noqa: BLE001 - unknown effects: say it writes everything
            written = frozenset(ALL_REGS)
        out.append(Insn(ins.address, ins.size, ins.mnemonic.removeprefix("lock ").strip(),
                        LOCK_PREFIX in ins.prefix, mem, target, dest, written, src, imm))
    return out
