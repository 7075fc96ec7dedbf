"""LiveReader on goroutines inside cgo calls (status syscall): their stacks cross
runtime.cgocall and pkg._Cfunc_*, which are not user code (Delve's UserCurrent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gotui.backends.live.reader import LiveReader
from gotui.backends.live.stackwalk import STOP_FUNCS
from gotui.backends.model import Goroutine, Location, Snapshot

from tests import gofixtures

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reader() -> Iterator[LiveReader]:
    exe = gofixtures.build("cgo_sleep", cgo=True)
    with gofixtures.run(exe) as t:
        r = LiveReader(t.pid)
        try:
            yield r
        finally:
            r.close()


def in_c(snap: Snapshot) -> Goroutine:
    (g,) = [g for g in snap.goroutines if g.start.function == "main.sleeper"]
    return g


def same_place(a: Location, b: Location) -> bool:
    return (a.function, a.file, a.line) == (b.function, b.file, b.line)


def test_user_current_of_a_goroutine_in_c_is_its_go_caller(reader: LiveReader) -> None:
    for snap in (reader.snapshot(), reader.snapshot()):  # first read, then from the cache
        g = in_c(snap)
        assert g.status == "syscall"
        assert g.current.function == "runtime.cgocall"
        assert g.user_current.function == "main.sleeper"
        assert g.user_current.file.endswith("main.go")
        stack = reader.stack(g.id)
        kinds = [(f.function, f.kind) for f in stack]
        assert kinds[0] == ("runtime.cgocall", "cgo")
        assert any(f.endswith("._Cfunc_c_sleep_forever") and k == "cgo" for f, k in kinds)
        first_go = next(f for f in stack if f.kind == "go")
        assert same_place(g.user_current, first_go.location)


def test_user_current_is_the_first_go_frame_of_every_stack(reader: LiveReader) -> None:
    snap = reader.snapshot()
    stacks = reader.stacks()
    checked = 0
    for g in snap.goroutines:
        stack = stacks[g.id]
        if not stack:
            continue  # running: no stack without a stop
        first_go = next((f for f in stack if f.kind == "go"), None)
        # a runtime goroutine (no Go frame of a user): its outermost function, never
        # runtime.gopark
        outer = next(f for f in reversed(stack)
                     if f.function not in STOP_FUNCS and f.func_id != "wrapper")
        assert same_place(g.user_current, (first_go or outer).location), g.id
        assert g.user_current.function != "runtime.gopark"
        checked += 1
    assert checked >= 4  # 2 receivers, the sleeper in C, main in time.Sleep (at least)
