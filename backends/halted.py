"""The halted view: a snapshot of a target that a stop backend (Delve, gdb) holds stopped.

While the target is stopped nothing moves, so the live reader's reads are exact: it
reads every goroutine, its parent, the channels and locks it waits on, the values
channels buffer (builtin element types) and the stacks of parked goroutines, in a few
batched reads per level (backends/live). The stop backend is asked only for what a
memory reader cannot know, and only for the few goroutines that need it:

- goroutines on an OS thread at the stop (running, in a system call, in C): their
  location and stack come from the thread's registers (one call per thread);
- with stacks, goroutines whose stack crosses cgo: the C frames, stitched to the Go
  frames below them (the goroutine's own saved state);
- buffered values of element types the live reader does not render (structs...).

Delve's own snapshot (DelveBackend.snapshot: an Eval per goroutine for its parent, a
stack per goroutine...) keeps the target stopped ~10x longer than Delve's bare
goroutine list; this one stays near the cost of one live refresh. Variables and the
full Delve stack of one goroutine stay on demand (Session.stack/locals/eval).
"""

from __future__ import annotations

import asyncio

from gotui.backends import cgostack
from gotui.backends.base import StopBackend
from gotui.backends.live.chan_elements import BufferReader
from gotui.backends.live.reader import LiveReader, copied
from gotui.backends.model import Frame, Goroutine, GotuiError, Snapshot, frame_kind

# Buffered channels whose values the stop backend renders (one call each), at most:
# beyond, their `elements` stay None (unknown) rather than keep the target stopped.
MAX_DEBUGGER_BUFFERS = 256
STACK_CONCURRENCY = 64  # stop-backend stack calls in flight (Delve answers in order)


def _needs_debugger(g: Goroutine, frames: list[Frame], on_thread: bool) -> bool:
    """The live walk cannot give this goroutine's whole stack: it runs (registers),
    or its stack crosses into C (frames only a CFI walk of its thread finds)."""
    if on_thread and (g.status == "running" or not frames or frames[0].kind == "cgo"):
        return True
    return cgostack.has_cgo(frames)


async def _stop_stack(stop: StopBackend, goid: int, walked: list[Frame]) -> list[Frame]:
    try:
        return await stop.stack(goid)
    except GotuiError:
        return walked  # the live walk's frames are still right, only without C frames


async def halted_snapshot(live: LiveReader, stop: StopBackend, *,
                          stacks: bool = False) -> Snapshot:
    """The snapshot of a halted target. The caller holds the target stopped through
    `stop` and has the live reader to itself (Session._live_lock)."""
    snap, on_thread = await asyncio.gather(asyncio.to_thread(live.snapshot),
                                           stop.thread_goroutines())
    # still memory: every lock holder can be inferred now, not a batch per refresh
    await asyncio.to_thread(live.annotate_holders, snap, fresh=True)
    # The reader shares unchanged Goroutine objects between its snapshots: copy any
    # goroutine before changing it.
    gs = list(snap.goroutines)
    at = {g.id: i for i, g in enumerate(gs)}
    threads = {t.id: t for t in on_thread if t.id in at}
    for t in threads.values():
        i = at[t.id]
        g = gs[i] = copied(gs[i])
        g.thread_id = t.thread_id or g.thread_id
        if g.status == "running" or not g.current.function:
            g.current, g.user_current = t.current, t.user_current
        elif frame_kind(g.current.function) == "cgo" and t.current.function:
            g.current = t.current  # in C: where its thread is (user_current stays Go)
    if stacks:
        walked = await asyncio.to_thread(live.stacks, list(at))
        full = {t.id: t.stack for t in threads.values()}
        asked = [g.id for g in gs if g.id not in full
                 and _needs_debugger(g, walked.get(g.id, []), False)]
        sem = asyncio.Semaphore(STACK_CONCURRENCY)

        async def ask(goid: int) -> list[Frame]:
            async with sem:
                return await _stop_stack(stop, goid, walked.get(goid, []))

        full.update(zip(asked, await asyncio.gather(*map(ask, asked)), strict=True))
        for i, g in enumerate(gs):
            frames = walked.get(g.id, [])
            if g.id in full and _needs_debugger(g, frames, g.id in threads):
                theirs = full[g.id]
                frames = cgostack.stitch(frames, theirs) if cgostack.has_cgo(theirs) else theirs
            g = gs[i] = copied(g)
            g.stack = frames
    snap.goroutines = gs
    rest = await asyncio.to_thread(BufferReader(live.mem, live.facts.layouts).fill,
                                   snap.channels)
    for b in rest[:MAX_DEBUGGER_BUFFERS]:
        if b.chan.elem_type:
            b.chan.elements = await stop.buffer_values(b.buf, b.chan.elem_type, b.chan.cap,
                                                       b.recvx, b.chan.len)
    snap.source = stop.name
    snap.target_paused_ns = stop.paused_ns()
    return snap
