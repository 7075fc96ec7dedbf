// Shared by every gotui BPF program (BCC). Userspace prepends #defines:
//   GOTUI_NPROBES          size of the hit counter array
//   G_GOID, G_GOPC, ...    byte offsets of runtime.g fields (from DWARF or a table)
// Go's register ABI on amd64: args in RAX RBX RCX RDI RSI R8-R11, current g in R14.
// BCC's PT_REGS_PARMx follow the C ABI and are wrong for Go: use ctx->ax etc.
#include <uapi/linux/ptrace.h>

#define EV_CREATED 1
#define EV_EXITED 2
#define EV_BLOCKED 3
#define EV_UNBLOCKED 4
#define EV_TRACEPOINT 5

BPF_RINGBUF_OUTPUT(events, GOTUI_RINGBUF_PAGES);
BPF_ARRAY(hits, u64, GOTUI_NPROBES);      // hits per probe id, read by the guard
BPF_PERCPU_ARRAY(lost, u64, 1);           // failed ring buffer reserves

static __always_inline void count_hit(u32 probe) {
    u64 *v = hits.lookup(&probe);
    if (v)
        __sync_fetch_and_add(v, 1);
}

static __always_inline void count_lost(void) {
    u32 zero = 0;
    u64 *v = lost.lookup(&zero);
    if (v)
        *v += 1;
}

static __always_inline u64 read_u64(u64 addr) {
    u64 v = 0;
    bpf_probe_read_user(&v, sizeof(v), (void *)addr);
    return v;
}

static __always_inline s64 read_s64(u64 addr) { return (s64)read_u64(addr); }

static __always_inline u32 read_u32(u64 addr) {
    u32 v = 0;
    bpf_probe_read_user(&v, sizeof(v), (void *)addr);
    return v;
}

static __always_inline u16 read_u16(u64 addr) {
    u16 v = 0;
    bpf_probe_read_user(&v, sizeof(v), (void *)addr);
    return v;
}

static __always_inline u8 read_u8(u64 addr) {
    u8 v = 0;
    bpf_probe_read_user(&v, sizeof(v), (void *)addr);
    return v;
}

// goid of the goroutine running user code on this thread: R14 holds the current g;
// on the system stack that is g0 (goid 0), whose m.curg is the user goroutine.
static __always_inline u64 current_goid(struct pt_regs *ctx) {
    u64 g = ctx->r14;
    u64 id = read_u64(g + G_GOID);
    if (id == 0 && g) {
        u64 m = read_u64(g + G_M);
        u64 curg = m ? read_u64(m + M_CURG) : 0;
        id = curg ? read_u64(curg + G_GOID) : 0;
    }
    return id;
}
