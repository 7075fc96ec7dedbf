// Goroutine lifecycle probes. All are plain uprobes (never uretprobes: Go moves
// stacks). Probe ids PROBE_* and g offsets come from userspace #defines.

struct life_event {
    u32 type;
    u32 probe;
    u64 t_ns;
    u64 goid;
    u64 parent;    // created: parent goid; unblocked: goid of the waker
    u64 gopc;      // created/exited: pc of the go statement
    u64 startpc;   // created/exited: g.startpc
    u64 chan;      // blocked: hchan address when waiting on a channel
    u32 waitreason;
    u32 pad;
};

static __always_inline struct life_event *life_reserve(u32 type, u32 probe) {
    struct life_event *e = events.ringbuf_reserve(sizeof(struct life_event));
    if (!e) {
        count_lost();
        return 0;
    }
    e->type = type;
    e->probe = probe;
    e->t_ns = bpf_ktime_get_ns();
    e->parent = 0;
    e->gopc = 0;
    e->startpc = 0;
    e->chan = 0;
    e->waitreason = 0;
    e->pad = 0;
    return e;
}

// At the return address of `CALL runtime.newproc1` (on the system stack): RAX is the
// new g, with goid already assigned (casgstatus(_Gdead,_Grunnable) ran before that in
// some versions, so reading it there would be wrong).
int on_created(struct pt_regs *ctx) {
    count_hit(PROBE_CREATED);
    u64 newg = ctx->ax;
    struct life_event *e = life_reserve(EV_CREATED, PROBE_CREATED);
    if (!e)
        return 0;
    e->goid = read_u64(newg + G_GOID);
#ifdef G_PARENTGOID
    e->parent = read_u64(newg + G_PARENTGOID);
#else
    e->parent = current_goid(ctx);
#endif
    e->gopc = read_u64(newg + G_GOPC);
    e->startpc = read_u64(newg + G_STARTPC);
    events.ringbuf_submit(e, 0);
    return 0;
}

// Entry of runtime.goexit0(gp) (reached via mcall: RAX = the exiting g).
int on_exited(struct pt_regs *ctx) {
    count_hit(PROBE_EXITED);
    u64 gp = ctx->ax;
    struct life_event *e = life_reserve(EV_EXITED, PROBE_EXITED);
    if (!e)
        return 0;
    e->goid = read_u64(gp + G_GOID);
    e->gopc = read_u64(gp + G_GOPC);
    e->startpc = read_u64(gp + G_STARTPC);
    events.ringbuf_submit(e, 0);
    return 0;
}

#ifdef GOTUI_DEEP
// Entry of runtime.park_m(gp) (via mcall from gopark: RAX = the parking g, whose
// waitreason and waiting sudog list are set).
int on_blocked(struct pt_regs *ctx) {
    count_hit(PROBE_BLOCKED);
    u64 gp = ctx->ax;
    struct life_event *e = life_reserve(EV_BLOCKED, PROBE_BLOCKED);
    if (!e)
        return 0;
    e->goid = read_u64(gp + G_GOID);
    e->waitreason = read_u8(gp + G_WAITREASON);
    u64 sg = read_u64(gp + G_WAITING);
    e->chan = sg ? read_u64(sg + SUDOG_C) : 0;
    events.ringbuf_submit(e, 0);
    return 0;
}

// Entry of runtime.ready(gp, traceskip, next): RAX = the goroutine made runnable.
int on_unblocked(struct pt_regs *ctx) {
    count_hit(PROBE_UNBLOCKED);
    u64 gp = ctx->ax;
    struct life_event *e = life_reserve(EV_UNBLOCKED, PROBE_UNBLOCKED);
    if (!e)
        return 0;
    e->goid = read_u64(gp + G_GOID);
    e->parent = current_goid(ctx);
    events.ringbuf_submit(e, 0);
    return 0;
}
#endif

// Calibration: a counter-only program attached to a libc function in the tracer
// itself, to measure what one uprobe hit costs on this machine.
int on_calibrate(struct pt_regs *ctx) {
    count_hit(PROBE_CALIBRATE);
    return 0;
}
