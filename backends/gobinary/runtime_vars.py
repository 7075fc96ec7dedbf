"""Addresses of runtime globals in binaries without `.symtab` (`-ldflags=-s`).

The pclntab still names every function, so we look at the machine code of a runtime
function that is known to touch the variable and collect its RIP-relative operands.
This is a pattern scan, not a disassembler: it matches `[REX] opcode modrm(disp32)`
forms with mod=00 rm=101 and keeps only targets that land in the expected data range
(moduledata's bss/noptrbss/data bounds), which makes false matches (bytes inside other
instructions) practically impossible. Tests check every result against `.symtab` for
Go 1.19, 1.26 and 1.27, debug, optimized, PIE and cgo builds.

- runtime.allgs / allgptr / allglen: from runtime.allgadd, which does
  `lock(&allglock); allgs = append(allgs, gp); if &allgs[0] != allgptr {
  atomicstorep(&allgptr, ...)}; atomic.Storeuintptr(&allglen, len(allgs))`.
  allgs is the .bss target also referenced at +8 (len) and +16 (cap); allgptr the other
  .bss target; allglen the non-.bss target written with XCHG (atomic store on amd64).
- runtime.waitReasonStrings: from runtime.waitReason.String, which bounds-checks the
  reason with `CMP AL, $len` and indexes the array (`LEAQ waitReasonStrings(SB)`).
- runtime.semtable: the one .bss address both runtime.semacquire1 and
  runtime.semrelease1 take with LEAQ (`semtable.rootFor(addr)`, inlined in both).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# opcode -> size of the immediate that follows the disp32
_OPCODES: dict[int, int] = {
    0x01: 0, 0x03: 0, 0x29: 0, 0x2B: 0, 0x39: 0, 0x3B: 0, 0x85: 0, 0x87: 0,
    0x89: 0, 0x8B: 0, 0x8D: 0, 0x83: 1, 0x80: 1, 0xC6: 1, 0x81: 4, 0xC7: 4,
}
_LEA = 0x8D
_XCHG = 0x87
_CALL = 0xE8


@dataclass(frozen=True)
class RipRef:
    at: int  # address of the opcode byte
    next_ip: int  # address of the next instruction
    opcode: int
    target: int


def rip_refs(code: bytes, base: int) -> list[RipRef]:
    """RIP-relative memory operands in code (located at link-time address base)."""
    out = []
    for i in range(len(code) - 5):
        op = code[i]
        imm = _OPCODES.get(op)
        if imm is None or code[i + 1] & 0xC7 != 0x05:
            continue
        disp = struct.unpack_from("<i", code, i + 2)[0]
        next_ip = base + i + 6 + imm
        out.append(RipRef(base + i, next_ip, op, next_ip + disp))
    return out


def call_sites(code: bytes, base: int) -> dict[int, int]:
    """address -> target of every byte sequence that looks like `CALL rel32`. Callers
    must validate them (e.g. the target is a function entry)."""
    return {base + i: base + i + 5 + struct.unpack_from("<i", code, i + 1)[0]
            for i in range(len(code) - 4) if code[i] == _CALL}


Range = tuple[int, int]  # [start, end) link-time addresses, e.g. moduledata's bss/ebss


def _in(rng: Range, addr: int) -> bool:
    return rng[0] <= addr < rng[1]


def find_allg_vars(code: bytes, base: int, bss: Range, noptrbss: Range) -> dict[str, int]:
    """{"runtime.allgs", "runtime.allgptr", "runtime.allglen"} found in allgadd's code."""
    refs = rip_refs(code, base)
    bss_targets = {r.target for r in refs if _in(bss, r.target)}
    out: dict[str, int] = {}
    slices = sorted(t for t in bss_targets if t + 8 in bss_targets and t + 16 in bss_targets)
    if len(slices) == 1:
        allgs = slices[0]
        out["runtime.allgs"] = allgs
        others = bss_targets - {allgs, allgs + 8, allgs + 16}
        if len(others) == 1:
            out["runtime.allgptr"] = others.pop()
    # allglen is written with an atomic store, XCHG on amd64: either `XCHGQ r, allglen(SB)`
    # or `LEAQ allglen(SB), r; XCHGQ r2, 0(r)`. Optimized builds inline atomicstorep, so
    # allgptr is XCHG'd too: it is excluded as a .bss target (allglen has no pointers).
    xchg = set()
    for r in refs:
        if not (_in(noptrbss, r.target) or _in(bss, r.target)):
            continue
        nxt = r.next_ip - base
        after = code[nxt:nxt + 2]
        if r.opcode == _XCHG or (r.opcode == _LEA and _XCHG in after):
            xchg.add(r.target)
    xchg -= bss_targets
    if len(xchg) == 1:
        out["runtime.allglen"] = xchg.pop()
    return out


def find_wait_reason_strings(code: bytes, base: int, data: Range) -> tuple[int, int] | None:
    """(address, count) of runtime.waitReasonStrings from waitReason.String's code."""
    targets = [r.target for r in rip_refs(code, base) if _in(data, r.target)]
    if len(set(targets)) != 1:
        return None
    count = None
    for i in range(min(len(code) - 1, 32)):
        if code[i] == 0x3C:  # CMP AL, imm8
            count = code[i + 1]
            break
    return targets[0], count or 0


def find_semtable(acquire: tuple[bytes, int], release: tuple[bytes, int],
                  bss: Range) -> int | None:
    """runtime.semtable: the only .bss LEAQ target of both semacquire1 and semrelease1."""
    def leas(code: bytes, base: int) -> set[int]:
        return {r.target for r in rip_refs(code, base) if r.opcode == _LEA and _in(bss, r.target)}
    both = leas(*acquire) & leas(*release)
    return both.pop() if len(both) == 1 else None
