"""Fixtures for the live backend tests: Go binaries built per toolchain and variant.

Which toolchains exist is decided in tests/gofixtures.py (one place); a test for one that
is missing skips with its standard reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests import gofixtures
from tests.gofixtures import ALL_TOOLCHAINS, MAIN_TOOLCHAINS, need_toolchain

__all__ = ["ALL_TOOLCHAINS", "MAIN_TOOLCHAINS", "build", "build_pie", "go_env", "go_tool",
           "goroot", "need_toolchain"]


def go_env(toolchain: str) -> tuple[str, dict[str, str]]:
    need_toolchain(toolchain)
    go, extra = gofixtures.TOOLCHAINS[toolchain]
    return go, {**os.environ, **extra}


def go_tool(toolchain: str, *args: str, stdin: str = "") -> str:
    """Run `go tool ...` of a toolchain (nm, addr2line) and return stdout."""
    go, env = go_env(toolchain)
    return subprocess.run([go, "tool", *args], input=stdin, capture_output=True, text=True,
                          env=env, check=True, timeout=120).stdout


@functools.cache
def goroot(toolchain: str) -> Path:
    go, env = go_env(toolchain)
    out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, env=env,
                         check=True, timeout=60)
    return Path(out.stdout.strip())


def build(name: str, toolchain: str, *, stripped: bool = False, optimize: bool = False,
          cgo: bool | None = None) -> Path:
    need_toolchain(toolchain)
    return gofixtures.build(name, toolchain=toolchain, stripped=stripped, optimize=optimize,
                            cgo=cgo)


def build_pie(name: str, toolchain: str, *, stripped: bool = False) -> Path:
    """-buildmode=pie build (gofixtures.build has no build mode option), cached likewise."""
    need_toolchain(toolchain)
    src = gofixtures.FIXTURES / name
    h = hashlib.sha256()
    for p in sorted(src.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    uses_cgo = any('import "C"' in p.read_text() for p in src.glob("*.go"))
    key = f"{name}-{toolchain}-pie-{'s' if stripped else 'd'}-{h.hexdigest()[:12]}"
    out = gofixtures.CACHE / key / name
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    go, env = go_env(toolchain)
    args = [go, "build", "-buildmode=pie", "-o", f"{out}.tmp"]
    if stripped:
        args.append("-ldflags=-s -w")
    subprocess.run([*args, "."], cwd=src, check=True, capture_output=True, timeout=600,
                   env={**env, "CGO_ENABLED": "1" if uses_cgo else "0", "GOFLAGS": "-mod=mod"})
    os.replace(f"{out}.tmp", out)
    return out


@pytest.fixture(autouse=True)
def _private_layout_cache(tmp_path_factory: pytest.TempPathFactory,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the DWARF layout cache of the tests out of ~/.cache (and start it empty)."""
    from gotui.backends.gobinary import dwarf_layouts

    monkeypatch.setattr(dwarf_layouts, "CACHE_DIR", tmp_path_factory.mktemp("gotui-cache"))
