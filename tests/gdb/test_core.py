"""Post-mortem: a core written by gcore from the running cgo fixture, opened by gdb."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.gdb import open_core
from backends.model import GotuiError
from tests import gofixtures

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("gcore") is None, reason="gcore (gdb) missing")]


@pytest.fixture(scope="module")
def cgo_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    exe = gofixtures.build("cgo_callback")
    out = tmp_path_factory.mktemp("core") / "core"
    # one malloc arena: the core holds every mapping, ~8 x 64 MB arenas otherwise
    with gofixtures.run(exe, env={"MALLOC_ARENA_MAX": "1"}) as t:
        subprocess.run(["gcore", "-o", str(out), str(t.pid)], check=True,
                       capture_output=True, timeout=120)
        assert gofixtures.wait_untraced(t.pid) and gofixtures.making_progress(t.pid)
        core = Path(f"{out}.{t.pid}")
    yield exe, core
    core.unlink(missing_ok=True)


async def test_core_lists_goroutines_with_stitched_stacks(cgo_core: tuple[Path, Path]) -> None:
    exe, core = cgo_core
    b = await open_core(str(exe), str(core), "gdb")
    try:
        assert b.info.go_version.startswith("go1.")
        snap = await b.snapshot(stacks=True)
        by_start = {g.start.function: g for g in snap.goroutines}
        assert {"main.sleepNoFP", "main.sleepFP", "main.callbackFP", "main.callbackNoFP",
                "main.ticker"} <= set(by_start)
        sleeper = [f.function for f in by_start["main.sleepNoFP"].stack]
        assert sleeper.index("c_inner_nofp") < sleeper.index("runtime.asmcgocall") \
            < sleeper.index("main.sleepNoFP")
        cb = [f.function for f in by_start["main.callbackNoFP"].stack]
        assert cb.index("main.goCallback") < cb.index("c_call_back_nofp") \
            < cb.index("main.callbackNoFP")
        assert by_start["main.callbackFP"].blocked_on is not None
        assert any(len(c.receivers) == 2 for c in snap.channels)
        assert all(g.wait_ns == 0 for g in snap.goroutines)  # no clock to compare with
        with pytest.raises(GotuiError, match="core"):
            await b.cont()
    finally:
        await b.detach()


async def test_open_core_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(GotuiError, match="cannot read"):
        await open_core(str(tmp_path / "nope"), str(tmp_path / "core"), "gdb")
    with pytest.raises(GotuiError, match="delve"):
        await open_core("exe", "core", "delve")
