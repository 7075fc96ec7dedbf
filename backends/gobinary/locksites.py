"""Where a Go function takes and releases sync locks: its Lock / Unlock / RLock /
RUnlock / TryLock sites, inlined or called.

Optimised builds inline the fast paths of sync.(*Mutex).Lock/Unlock, RLock and
RUnlock into every caller (since Go 1.24 through internal/sync.(*Mutex)); the
pclntab's inline tree names each inlined body, so a site is a run of pcs whose
inline chain holds one of these methods (the outermost one names the site: the
Mutex.Lock inside RWMutex.Lock is part of RWMutex.Lock). Debug builds, and callers
the compiler did not inline into, CALL the method: a site is that CALL.

An inlined Lock keeps its slow path (the CALL of lockSlow) out of line, often at the
end of the function: a site is the list of its runs, and execution resumes after the
first one (`resume`) once the lock is taken.

A site's receiver is known when the code names a global (`LEAQ main.mu(SB), AX;
CALL sync.(*Mutex).Lock`, or `LOCK CMPXCHGL CX, main.mu(SB)`); otherwise it is a
pointer the frame holds. All addresses here are link-time ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gotui.backends.gobinary.disasm import Insn, instructions, reg64
from gotui.backends.gobinary.pclntab import PCDATA_INL_TREE_INDEX
from gotui.backends.gobinary.runtime_vars import call_sites

SYNC_PACKAGES = ("sync.", "internal/sync.")
# method (without package) -> (kind, op)
METHODS: dict[str, tuple[str, str]] = {
    "(*Mutex).Lock": ("mutex", "lock"), "(*Mutex).TryLock": ("mutex", "trylock"),
    "(*Mutex).Unlock": ("mutex", "unlock"),
    "(*RWMutex).Lock": ("rwmutex", "lock"), "(*RWMutex).TryLock": ("rwmutex", "trylock"),
    "(*RWMutex).Unlock": ("rwmutex", "unlock"),
    "(*RWMutex).RLock": ("rwmutex", "rlock"), "(*RWMutex).TryRLock": ("rwmutex", "tryrlock"),
    "(*RWMutex).RUnlock": ("rwmutex", "runlock"),
}
ACQUIRE = frozenset({"lock", "trylock", "rlock", "tryrlock"})
# acquiring op -> the op that releases what it took
RELEASE_OF = {"lock": "unlock", "trylock": "unlock", "rlock": "runlock", "tryrlock": "runlock"}
MAX_FUNC = 1 << 20  # bytes of one function disassembled at most


def lock_method(name: str) -> tuple[str, str] | None:
    """(kind, op) of a sync lock method name, e.g. "sync.(*Mutex).Lock" ->
    ("mutex", "lock"); None for anything else."""
    for pkg in SYNC_PACKAGES:
        if name.startswith(pkg):
            return METHODS.get(name[len(pkg):])
    return None


@dataclass(frozen=True)
class LockSite:
    kind: str  # "mutex" | "rwmutex"
    op: str  # lock | trylock | unlock | rlock | tryrlock | runlock
    runs: tuple[tuple[int, int], ...]  # pc ranges [start, end), in address order
    receiver: int | None = None  # link-time address of a global receiver, if named
    resume: int = 0  # where the function goes on once the lock is taken

    @property
    def start(self) -> int:
        return self.runs[0][0]

    def contains(self, pc: int) -> bool:
        return any(a <= pc < b for a, b in self.runs)


@dataclass
class FunctionSites:
    entry: int
    sites: list[LockSite] = field(default_factory=list)

    def held_at(self, pc: int) -> list[LockSite]:
        """The acquiring sites whose lock is held when the function is at `pc` (a call
        in progress, or the next instruction): sites that returned before pc with no
        release of the same family (and the same global, when both name one) between
        them and pc in address order. A frame inside a site (parked in its lockSlow)
        is where that site resumes: its own lock is not held yet."""
        for s in self.sites:
            if s.contains(pc):
                pc = s.resume if s.op in ACQUIRE else pc
                if s.op in ACQUIRE:
                    return [h for h in self._held(pc) if h is not s]
        return self._held(pc)

    def _held(self, pc: int) -> list[LockSite]:
        out = []
        for s in self.sites:
            if s.op not in ACQUIRE or s.resume > pc:
                continue
            rel = RELEASE_OF[s.op]
            if not any(u.op == rel and u.kind == s.kind and s.resume <= u.start < pc
                       and (u.receiver is None or s.receiver is None
                            or u.receiver == s.receiver)
                       for u in self.sites):
                out.append(s)
        return out


class LockSites:
    """Lock sites per function of one binary (a BinaryFacts), computed on demand and
    cached per function."""

    def __init__(self, facts: object) -> None:
        self.facts = facts
        self._cache: dict[int, FunctionSites] = {}
        self._methods: dict[int, tuple[str, str]] | None = None  # entry -> (kind, op)
        self._chains: dict[tuple[int, int], tuple[int, str, str] | None] = {}

    def method_entries(self) -> dict[int, tuple[str, str]]:
        """Entry of every out-of-line lock method -> (kind, op)."""
        if self._methods is None:
            self._methods = {}
            for fn in self.facts.functions():  # type: ignore[attr-defined]
                m = lock_method(fn.name)
                if m is not None:
                    self._methods[fn.entry] = m
        return self._methods

    def for_pc(self, pc: int) -> FunctionSites | None:
        """The sites of the function containing link-time pc (None: unknown pc)."""
        pcln = self.facts.pcln  # type: ignore[attr-defined]
        i = pcln.find(pc)
        if i is None:
            return None
        entry = pcln.entry(i)
        got = self._cache.get(entry)
        if got is None:
            got = self._cache[entry] = self._function(i)
        return got

    def _function(self, i: int) -> FunctionSites:
        facts = self.facts
        pcln = facts.pcln  # type: ignore[attr-defined]
        entry, end = pcln.entry(i), pcln.end(i)
        out = FunctionSites(entry)
        if lock_method(pcln.name(i)) is not None:
            return out  # the lock methods themselves hold nothing
        inlined: dict[int, tuple[str, str, list[tuple[int, int]]]] = {}
        for start, stop, ix in pcln.pcdata_runs(i, PCDATA_INL_TREE_INDEX):
            if ix < 0:
                continue
            hit = self._outer_method(i, ix)
            if hit is None:
                continue
            site_ix, kind, op = hit
            runs = inlined.setdefault(site_ix, (kind, op, []))[2]
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], stop)
            else:
                runs.append((start, stop))
        code = facts.elf.read(entry, min(end - entry, MAX_FUNC))  # type: ignore[attr-defined]
        methods = self.method_entries()
        if not inlined and not (code and set(call_sites(code, entry).values()) & methods.keys()):
            return out  # no lock site (the byte scan may over-match, never under-match)
        insns = instructions(code, entry) if code else []
        for kind, op, runs in inlined.values():
            out.sites.append(LockSite(kind, op, tuple(runs), _inlined_receiver(insns, runs),
                                      _resume(insns, runs)))
        for j, ins in enumerate(insns):
            if ins.mnemonic == "call" and ins.target in methods:
                kind, op = methods[ins.target]
                out.sites.append(LockSite(kind, op, ((ins.addr, ins.next),),
                                          _call_receiver(insns, j), ins.next))
        out.sites.sort(key=lambda s: s.start)
        return out

    def _outer_method(self, i: int, ix: int) -> tuple[int, str, str] | None:
        """(inline index, kind, op) of the outermost lock method in the inline chain at
        index ix of function i; None when the chain has none."""
        key = (i, ix)
        if key in self._chains:
            return self._chains[key]
        facts = self.facts
        pcln = facts.pcln  # type: ignore[attr-defined]
        gofunc = facts.moduledata.gofunc if facts.moduledata else 0  # type: ignore[attr-defined]
        found = None
        depth = 0
        while ix is not None and ix >= 0 and depth < 64:
            rec = pcln.inline_record(i, ix, gofunc, facts.elf.read)  # type: ignore[attr-defined]
            if rec is None:
                break
            m = lock_method(pcln.name_at(rec[0]))
            if m is not None:
                found = (ix, *m)
            ix = pcln.pcdata_value(i, PCDATA_INL_TREE_INDEX, rec[1])
            depth += 1
        self._chains[key] = found
        return found


def _resume(insns: list[Insn], runs: list[tuple[int, int]]) -> int:
    """The end of the run holding the fast path's atomic instruction: the slow path is
    a branch away, often to the end of the function."""
    for a, b in runs:
        if any(ins.lock for ins in insns if a <= ins.addr < b):
            return b
    return runs[0][1]


def _call_receiver(insns: list[Insn], j: int) -> int | None:
    """A global receiver loaded into RAX by one of the few instructions before a CALL."""
    for ins in reversed(insns[max(0, j - 4):j]):
        if ins.dest_reg in ("rax", "eax"):
            return ins.rip_target() if ins.mnemonic == "lea" else None
    return None


def _inlined_receiver(insns: list[Insn], runs: list[tuple[int, int]]) -> int | None:
    """The global an inlined fast path works on: the RIP-relative operand of its
    atomic instruction, or of the LEAQ that last set its base register (looked for a
    few instructions back, also before the inlined body: the caller computes it)."""
    at = next((k for k, ins in enumerate(insns) if ins.lock and ins.mem is not None
               and any(a <= ins.addr < b for a, b in runs)), None)
    if at is None:
        return None
    mem = insns[at].mem
    assert mem is not None
    if mem.base == "rip":
        return insns[at].rip_target()
    for prev in reversed(insns[max(0, at - 12):at]):
        if prev.mnemonic in ("call", "jmp", "ret") or prev.target is not None:
            return None  # not straight-line code: the register may come from elsewhere
        if _same_reg(prev.dest_reg, mem.base):
            return (prev.rip_target() if prev.mnemonic == "lea" and not mem.disp
                    and not mem.index else None)
    return None


def _same_reg(a: str, b: str) -> bool:
    """rax/eax/ax, r8/r8d... name the same register."""
    def norm(r: str) -> str:
        r = r.rstrip("dwb") if r.startswith("r") and r[1:2].isdigit() else r
        return r[1:] if len(r) == 3 and r[0] in "re" else r
    return bool(a) and norm(a) == norm(b)


# ------------------------------------------------------------ exact tracking sites

# whose atomic instruction takes (CMPXCHG) or releases (XADD) a sync.Mutex
ACQUIRING = frozenset({f"{p}(*Mutex).{m}" for p in SYNC_PACKAGES for m in ("Lock", "TryLock")})
RELEASING = frozenset({f"{p}(*Mutex).Unlock" for p in SYNC_PACKAGES})
SLOW_LOCK = frozenset({f"{p}(*Mutex).lockSlow" for p in SYNC_PACKAGES})
REG64 = frozenset({"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                   *(f"r{i}" for i in range(8, 16))})


@dataclass(frozen=True)
class AtomicSite:
    """Where a probe goes and how it finds the Mutex there: reg + disp, or (reg "")
    the link-time address `disp` of a global Mutex."""

    at: int  # link-time address of the probed instruction
    reg: str  # register holding the Mutex's address at `at` ("" for a global)
    disp: int
    function: str  # the physical function it sits in
    deref: bool = False  # the Mutex's address is the word at reg + disp (a spill slot)
    add: int = 0  # ... plus this

    @property
    def static(self) -> bool:
        """reg is "": disp is a link-time address (add the load bias)."""
        return not self.reg


@dataclass
class MutexSites:
    """Every place a sync.Mutex changes hands, for exact tracking (eBPF): the CAS of
    Lock/TryLock (probed just after it: ZF says whether it took the lock), the XADD of
    Unlock (probed before it: the kernel refuses uprobes on LOCK-prefixed
    instructions, so on the straight-line instruction before it that lets the
    address be computed), lockSlow's entry and each of its RETs (the slow path
    returns holding the lock). `unusable` lists the sites that cannot be probed
    safely; with any, tracking could miss a hand-over, so it must not claim exact."""

    acquire: list[AtomicSite] = field(default_factory=list)
    release: list[AtomicSite] = field(default_factory=list)
    slow_entry: list[int] = field(default_factory=list)
    slow_ret: list[int] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)
    functions: int = 0  # functions disassembled


def mutex_sites(facts: object) -> MutexSites:
    """Scans the binary (BinaryFacts) for MutexSites. Cost: one pass over the pclntab
    inline data, plus a disassembly of each function that holds a site."""
    pcln = facts.pcln  # type: ignore[attr-defined]
    md = facts.moduledata  # type: ignore[attr-defined]
    gofunc = md.gofunc if md else 0
    read = facts.elf.read  # type: ignore[attr-defined]
    wanted = ACQUIRING | RELEASING
    out = MutexSites()
    names: dict[int, str] = {}  # funcnametab offset -> name
    for i in range(pcln.nfunc):
        name = pcln.name(i)
        if name in SLOW_LOCK:
            _slow_sites(facts, i, out)
            continue
        own = name in wanted
        inl: list[tuple[int, int, str]] = []  # (start, end, innermost wanted name)
        chains: dict[int, str] = {}
        for start, stop, ix in pcln.pcdata_runs(i, PCDATA_INL_TREE_INDEX) if gofunc else []:
            if ix < 0:
                continue
            hit = chains.get(ix)
            if hit is None:
                hit = chains[ix] = _innermost_wanted(pcln, i, ix, gofunc, read, names, wanted)
            if hit:
                inl.append((start, stop, f"{hit}#{ix}"))
        if not own and not inl:
            continue
        _atomic_sites(facts, i, name, own, inl, out)
    return out


def _innermost_wanted(pcln: object, i: int, ix: int, gofunc: int, read: object,
                      names: dict[int, str], wanted: frozenset[str]) -> str:
    """The innermost function of the inline chain at index ix that is in `wanted`
    (the atomic may sit in a helper inlined into Lock), "" if none is."""
    depth = 0
    while ix >= 0 and depth < 64:
        rec = pcln.inline_record(i, ix, gofunc, read)  # type: ignore[attr-defined]
        if rec is None:
            return ""
        name = names.get(rec[0])
        if name is None:
            name = names[rec[0]] = pcln.name_at(rec[0])  # type: ignore[attr-defined]
        if name in wanted:
            return name
        nxt = pcln.pcdata_value(i, PCDATA_INL_TREE_INDEX, rec[1])  # type: ignore[attr-defined]
        ix = nxt if nxt is not None else -1
        depth += 1
    return ""


def _atomic_sites(facts: object, i: int, name: str, own: bool,
                  inl: list[tuple[int, int, str]], out: MutexSites) -> None:
    pcln = facts.pcln  # type: ignore[attr-defined]
    entry, end = pcln.entry(i), pcln.end(i)
    code = facts.elf.read(entry, min(end - entry, MAX_FUNC))  # type: ignore[attr-defined]
    insns = instructions(code, entry) if code else []
    out.functions += 1
    if not insns or insns[-1].next < end - 16:
        out.unusable.append(f"{name}: not fully decoded")
    targets = {ins.target for ins in insns if ins.target is not None}
    for k, ins in enumerate(insns):
        if not ins.lock or ins.mnemonic not in ("cmpxchg", "xadd"):
            continue
        inner = (next((n for a, b, n in inl if a <= ins.addr < b), "")
                 or _between(inl, insns, k) or (name if own else "")).split("#")[0]
        if not inner:
            continue
        acquire = ins.mnemonic == "cmpxchg" and inner in ACQUIRING
        release = ins.mnemonic == "xadd" and inner in RELEASING
        if not acquire and not release:
            continue
        mem = ins.mem
        where = f"{name}+{ins.addr - entry:#x}"
        if mem is None or mem.base not in REG64 or mem.index:
            out.unusable.append(f"{where}: operand {mem}")
            continue
        if acquire:
            if ins.next in targets or mem.base in ins.writes:
                out.unusable.append(f"{where}: cannot read the CAS's result after it")
                continue
            out.acquire.append(AtomicSite(ins.next, mem.base, mem.disp, name))
            continue
        site = _before(insns, k, targets, mem.base, mem.disp, name)
        if site is None:
            out.unusable.append(f"{where}: no probe point before the XADD")
        else:
            out.release.append(site)


GAP = 48  # bytes of code between two runs of one inlined body that still belong to it


def _between(inl: list[tuple[int, int, str]], insns: list[Insn], k: int) -> str:
    """Go 1.19 and 1.27 can attribute an inlined Lock's or Unlock's atomic instruction
    (and its neighbours) to the caller. Such an instruction is taken as the site's
    when the nearest run of a wanted inlined body is at most GAP bytes away (on either
    side; both sides must agree) and it has the fast path's exact shape: Lock's
    CAS(&state, 0, 1) (EAX zeroed, the new value register set to 1 just before) or
    Unlock's XADD(&state, -1)."""
    ins = insns[k]
    before = max((r for r in inl if r[1] <= ins.addr), default=None, key=lambda r: r[1])
    after = min((r for r in inl if r[0] >= ins.next), default=None, key=lambda r: r[0])
    near = [r for r in (before, after) if r is not None
            and (r[1] > ins.addr - GAP if r is before else r[0] < ins.next + GAP)]
    if not near or len({r[2] for r in near}) != 1:
        return ""
    site = near[0][2]
    wanted = RELEASING if ins.mnemonic == "xadd" else ACQUIRING
    return site if site.split("#")[0] in wanted and _fast_path_shape(insns, k) else ""


def _fast_path_shape(insns: list[Insn], k: int) -> bool:
    ins = insns[k]
    src = reg64(ins.src_reg) if ins.src_reg else ""
    prev = insns[max(0, k - 6):k]
    src_val = next((p.imm for p in reversed(prev) if src in p.writes), None)
    if ins.mnemonic == "xadd":
        return src_val is not None and src_val & 0xFFFFFFFF == 0xFFFFFFFF
    zeroed = any(p.mnemonic == "xor" and p.dest_reg in ("eax", "rax") and p.src_reg == p.dest_reg
                 for p in prev)
    return zeroed and src_val == 1


def _before(insns: list[Insn], k: int, targets: set[int], reg: str, disp: int,
            name: str) -> AtomicSite | None:
    """A probe point before insns[k] (an XADD on reg+disp) from which execution falls
    straight into it, and how to compute the Mutex's address there."""
    if insns[k].addr in targets:
        return None  # reached by a jump: a probe before it could be skipped
    j = k - 1
    while j >= 0 and k - j <= 8:
        ins = insns[j]
        if ins.target is not None or ins.mnemonic in ("call", "ret", "jmp"):
            return None
        if reg not in ins.writes:
            return AtomicSite(ins.addr, reg, disp, name)
        if ins.mnemonic == "lea" and ins.dest_reg and reg64(ins.dest_reg) == reg \
                and ins.mem is not None and not ins.mem.index:
            if ins.mem.base == "rip":
                return AtomicSite(ins.addr, "", ins.next + ins.mem.disp + disp, name)
            reg, disp = ins.mem.base, disp + ins.mem.disp
        elif ins.mnemonic == "mov" and ins.src_reg and reg64(ins.dest_reg) == reg \
                and len(ins.writes - {"rflags", "eflags"}) == 1:
            reg = reg64(ins.src_reg)
        elif (ins.mnemonic == "mov" and ins.mem is not None and not ins.mem.index
              and ins.dest_reg in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp")
              or ins.mnemonic == "mov" and ins.mem is not None and not ins.mem.index
              and ins.dest_reg.startswith("r") and ins.dest_reg[1:].isdigit()) \
                and reg64(ins.dest_reg) == reg:
            # a 64-bit load of the pointer (from a spill slot, or a global): probe the
            # load itself and read the word it loads
            if ins.mem.base == "rip":
                return AtomicSite(ins.addr, "", ins.next + ins.mem.disp, name, True, disp)
            if ins.mem.base in REG64 and ins.mem.base not in ins.writes:
                return AtomicSite(ins.addr, ins.mem.base, ins.mem.disp, name, True, disp)
            return None
        else:
            return None
        if reg not in REG64 or ins.addr in targets:
            return None
        j -= 1
    return None


def _slow_sites(facts: object, i: int, out: MutexSites) -> None:
    pcln = facts.pcln  # type: ignore[attr-defined]
    entry, end = pcln.entry(i), pcln.end(i)
    code = facts.elf.read(entry, min(end - entry, MAX_FUNC))  # type: ignore[attr-defined]
    insns = instructions(code, entry) if code else []
    rets = [ins.addr for ins in insns if ins.mnemonic == "ret"]
    if not rets:
        out.unusable.append(f"{pcln.name(i)}: no RET found")
        return
    out.slow_entry.append(entry)
    out.slow_ret += rets
