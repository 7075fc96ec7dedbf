"""Struct layouts: DWARF reader vs the version table, for every toolchain installed here."""

from __future__ import annotations

import json
import time

import pytest
from gotui.backends.gobinary import dwarf_layouts
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.dwarf_layouts import SPEC, layouts_from_dwarf
from gotui.backends.gobinary.layout_table import TABLE, table_layouts
from gotui.backends.model import GotuiError

from tests.live.conftest import ALL_TOOLCHAINS, MAIN_TOOLCHAINS, build

# Fields every supported version has (parentGoid appeared in Go 1.21, syscallbp in 1.23,
# g.bubble/syncGroup in 1.24, debug.tracebacklabels in 1.26); synctest bubbles in 1.24
# (the bubble's id in 1.25).
LATER = {"parentGoid", "syscallbp", "bubble", "tracebacklabels", "id"}
REQUIRED = {name: set(fields) - LATER for name, (_, fields) in SPEC.items()}
SINCE = {"runtime.synctestBubble": 24}


def _as_dict(layouts: dict) -> dict:
    return {k: (v.size, v.offsets) for k, v in layouts.items()}


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", ALL_TOOLCHAINS)
def test_table_row_matches_dwarf(toolchain: str) -> None:
    exe = build("basic", toolchain)
    facts = BinaryFacts.load(str(exe))
    assert facts.layout_source == "dwarf"
    dwarf = layouts_from_dwarf(str(exe))
    assert set(dwarf) == {n for n in SPEC if facts.go_minor >= SINCE.get(n, 0)}
    for name, lay in dwarf.items():
        assert REQUIRED[name] <= set(lay.offsets), name
    assert ("parentGoid" in dwarf["runtime.g"].offsets) == (facts.go_minor >= 21)
    assert ("bubble" in dwarf["runtime.g"].offsets) == (facts.go_minor >= 24)
    assert ("tracebacklabels" in dwarf["runtime.debug"].offsets) == (facts.go_minor >= 26)
    assert facts.go_minor in TABLE, f"no table row for {facts.go_version}"
    assert _as_dict(table_layouts(facts.go_minor)) == _as_dict(dwarf)


@pytest.mark.integration
@pytest.mark.parametrize("toolchain", MAIN_TOOLCHAINS)
def test_stripped_binary_uses_table(toolchain: str) -> None:
    full = BinaryFacts.load(str(build("basic", toolchain)))
    facts = BinaryFacts.load(str(build("basic", toolchain, stripped=True)))
    assert facts.layout_source == "table"
    assert all(lay.source == "table" for lay in facts.layouts.values())
    assert _as_dict(facts.layouts) == _as_dict(full.layouts)
    assert facts.layout("runtime.g").offsets["goid"] == full.layouts["runtime.g"].offsets["goid"]


@pytest.mark.integration
def test_sudog_wrapper_flattened() -> None:
    """Go 1.26 wraps sudog.c in maybeTraceableChan{maybeTraceablePtr{vp, vu}}: offsets["c"]
    must be the *hchan pointer (vp, the first word), not the wrapper's second word."""
    facts = BinaryFacts.load(str(build("basic", "go1.26")))
    sudog = facts.layout("runtime.sudog")
    assert sudog.offsets["c"] == 88 and sudog.offsets["elem"] == 24
    assert sudog.offsets["waitlink"] == 72


@pytest.mark.integration
def test_unknown_version_raises_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stripped binary of a Go version the table does not know: layouts are empty and
    asking for one is a one-line GotuiError, both via layout() and via indexing."""
    from gotui.backends.gobinary import binary

    assert table_layouts(99) == {}
    monkeypatch.setattr(binary, "table_layouts", lambda minor: {})
    facts = BinaryFacts.load(str(build("basic", "go1.26", stripped=True)))
    assert facts.layout_source == "none" and facts.layouts == {}
    for ask in (lambda: facts.layout("runtime.g"), lambda: facts.layouts["runtime.g"]):
        with pytest.raises(GotuiError, match="no struct layout for runtime.g in go1.26") as e:
            ask()
        assert "\n" not in str(e.value)
    assert facts.layouts.get("runtime.g") is None


@pytest.mark.integration
def test_dwarf_layouts_cached_per_build_id() -> None:
    exe = build("basic", "go1.27")
    facts = BinaryFacts.load(str(exe))
    cache = dwarf_layouts.cache_path(facts.build_id)
    assert cache.exists()
    assert json.loads(cache.read_text())["runtime.g"]["offsets"]["goid"] == 152
    # The cache is what a second load reads: a marker value written there comes back.
    data = json.loads(cache.read_text())
    data["runtime.g"]["offsets"]["goid"] = 12345
    cache.write_text(json.dumps(data))
    assert BinaryFacts.load(str(exe)).layouts["runtime.g"].offsets["goid"] == 12345
    cache.write_text("not json")
    assert BinaryFacts.load(str(exe)).layouts["runtime.g"].offsets["goid"] == 152


@pytest.mark.integration
def test_dwarf_read_is_targeted() -> None:
    """Reading layouts must not walk the whole runtime unit (~0.3 s+; 23k DIE lookups for
    this small binary, more for big ones). Asserted as a count of DIE lookups, not a time."""
    from elftools.dwarf.compileunit import CompileUnit

    exe = build("basic", "go1.26")
    parsed = 0
    real = CompileUnit._get_cached_DIE

    def counting(self: CompileUnit, offset: int) -> object:
        nonlocal parsed
        parsed += 1
        return real(self, offset)

    CompileUnit._get_cached_DIE = counting  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        layouts_from_dwarf(str(exe))
        elapsed = time.perf_counter() - t0
    finally:
        CompileUnit._get_cached_DIE = real  # type: ignore[method-assign]
    print(f"layouts_from_dwarf: {elapsed * 1000:.1f} ms, {parsed} DIE lookups")
    assert 0 < parsed < 5000

