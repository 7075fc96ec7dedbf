// Conditional tracepoint template: userspace generates, per tracepoint N, a function
// on_tp_N with TP_BODY_N (argument reads + the compiled condition) in place.
// Matching hits are sent as a tp_event with up to TP_NVALS captured integers and
// TP_NSTRS captured strings (at most TP_STRLEN bytes each).

struct tp_event {
    u32 type;
    u32 probe;
    u64 t_ns;
    u64 goid;
    u64 vals[TP_NVALS];
    u32 slens[TP_NSTRS];    // the string's real length (may exceed TP_STRLEN)
    char strs[TP_NSTRS][TP_STRLEN];
};

static __always_inline struct tp_event *tp_reserve(struct pt_regs *ctx, u32 probe) {
    struct tp_event *e = events.ringbuf_reserve(sizeof(struct tp_event));
    if (!e) {
        count_lost();
        return 0;
    }
    e->type = EV_TRACEPOINT;
    e->probe = probe;
    e->t_ns = bpf_ktime_get_ns();
    e->goid = read_u64(ctx->r14 + G_GOID);
    return e;
}

static __always_inline void tp_string(struct tp_event *e, u32 i, u64 ptr, u64 len) {
    if (i >= TP_NSTRS)
        return;
    e->slens[i] = len;
    u32 n = len > TP_STRLEN - 1 ? TP_STRLEN - 1 : len;
    n &= TP_STRLEN - 1;
    bpf_probe_read_user(e->strs[i], n, (void *)ptr);
    e->strs[i][n & (TP_STRLEN - 1)] = 0;
}

// Reads `n` (<= TP_STRLEN) bytes of a Go string into buf; 0 on success.
static __always_inline int str_read(char *buf, u64 ptr, u32 n) {
    if (n == 0)
        return 0;
    return bpf_probe_read_user(buf, n & (2 * TP_STRLEN - 1), (void *)ptr);
}
