// Exact sync.Mutex holders: who took each Mutex and has not released it since.
// Userspace appends one acq_/rel_ function per (base register, displacement) of the
// atomic instructions (backends/gobinary/locksites.py mutex_sites):
//   acq_*: just after the LOCK CMPXCHG of an inlined or called Lock/TryLock: ZF set
//          means the CAS took the lock, for the goroutine running here (R14);
//   rel_*: at the LOCK XADD of Unlock, before it runs: whoever unlocks, the Mutex
//          stops being held (an entry is removed before another goroutine can take it);
//   lockSlow entry/RETs: the slow path returns holding the lock.
// Plain uprobes only (never uretprobes: Go moves stacks).

#define HOLD_ACQ 0
#define HOLD_REL 1
#define HOLD_SLOW_IN 2
#define HOLD_SLOW_OUT 3
#define HOLD_CALIBRATE 4

struct held {
    u64 goid;
    u64 t_ns;  // bpf_ktime_get_ns() when it was taken (CLOCK_MONOTONIC)
};

BPF_HASH(holders, u64, struct held, 65536);   // Mutex address -> holder
BPF_HASH(pending, u64, u64, 65536);           // goid -> Mutex it waits for in lockSlow
BPF_ARRAY(overflow, u64, 1);                  // failed inserts: tracking is incomplete

static __always_inline void hold(struct pt_regs *ctx, u64 m) {
    struct held h = {};
    h.goid = current_goid(ctx);
    h.t_ns = bpf_ktime_get_ns();
    if (holders.update(&m, &h) != 0) {
        u32 zero = 0;
        u64 *v = overflow.lookup(&zero);
        if (v)
            __sync_fetch_and_add(v, 1);
    }
}

static __always_inline void release(u64 m) {
    holders.delete(&m);
}

int on_slow_in(struct pt_regs *ctx) {
    count_hit(HOLD_SLOW_IN);
    u64 g = current_goid(ctx);
    u64 m = ctx->ax;  // lockSlow(m *Mutex): the receiver in RAX
    pending.update(&g, &m);
    return 0;
}

int on_slow_out(struct pt_regs *ctx) {
    count_hit(HOLD_SLOW_OUT);
    u64 g = current_goid(ctx);
    u64 *m = pending.lookup(&g);
    if (!m)
        return 0;
    u64 mm = *m;
    pending.delete(&g);
    hold(ctx, mm);
    return 0;
}

int on_calibrate(struct pt_regs *ctx) {
    count_hit(HOLD_CALIBRATE);
    return 0;
}

// Where each probed instruction finds its Mutex (filled by userspace, keyed by the
// probe's runtime address: a uprobe handler sees ip = the probed instruction).
struct site {
    u32 kind;   // HOLD_ACQ or HOLD_REL
    u32 reg;    // pt_regs register index (REG_* below), REG_NONE for a global
    s64 disp;   // address = reg + disp (or the global's runtime address)
    u32 deref;  // 1: the Mutex's address is the word at that address
    u32 pad;
    s64 add;    // ... plus add
};

BPF_HASH(sites, u64, struct site, 16384);

#define REG_NONE 255

// All sixteen read at fixed offsets first: a switch over ctx fields compiles to ctx
// pointer arithmetic, which the verifier refuses.
static __always_inline u64 reg_value(struct pt_regs *ctx, u32 r) {
    u64 v[16];
    v[0] = ctx->ax;
    v[1] = ctx->bx;
    v[2] = ctx->cx;
    v[3] = ctx->dx;
    v[4] = ctx->si;
    v[5] = ctx->di;
    v[6] = ctx->bp;
    v[7] = ctx->sp;
    v[8] = ctx->r8;
    v[9] = ctx->r9;
    v[10] = ctx->r10;
    v[11] = ctx->r11;
    v[12] = ctx->r12;
    v[13] = ctx->r13;
    v[14] = ctx->r14;
    v[15] = ctx->r15;
    return v[r & 15];
}

int on_site(struct pt_regs *ctx) {
    u64 ip = ctx->ip;
    struct site *s = sites.lookup(&ip);
    if (!s)
        return 0;
    u64 m = (s->reg == REG_NONE ? 0 : reg_value(ctx, s->reg)) + s->disp;
    if (s->deref)
        m = read_u64(m);
    m += s->add;
    if (s->kind == HOLD_ACQ) {
        count_hit(HOLD_ACQ);
        if (!(ctx->flags & 0x40))  // ZF clear: the CAS failed, the lock was not taken
            return 0;
        hold(ctx, m);
    } else {
        count_hit(HOLD_REL);
        release(m);
    }
    return 0;
}
