"""Fixtures for the live backend tests: Go binaries built per toolchain and variant.

Besides the toolchains of tests/gofixtures.py (go1.19, go1.26, go1.27), the Go 1.20-1.25
toolchains are used when they are already in the Go module cache (`GOTOOLCHAIN=go1.2x.y
go version` downloads them); tests never trigger a download.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests import gofixtures

MAIN_TOOLCHAINS = ("go1.19", "go1.26", "go1.27")
# Releases whose DWARF generated the rows of backends/live/layout_table.py.
CACHED_TOOLCHAINS = {
    "go1.20": "go1.20.14", "go1.21": "go1.21.13", "go1.22": "go1.22.12",
    "go1.23": "go1.23.12", "go1.24": "go1.24.13", "go1.25": "go1.25.14",
}
ALL_TOOLCHAINS = ("go1.19", *CACHED_TOOLCHAINS, "go1.26", "go1.27")


@functools.cache
def _modcache() -> Path:
    out = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                         env={**os.environ, "GOTOOLCHAIN": "local"}, timeout=60)
    return Path(out.stdout.strip() or Path.home() / "go/pkg/mod")


def _register_cached_toolchains() -> None:
    for name, release in CACHED_TOOLCHAINS.items():
        go = _modcache() / f"golang.org/toolchain@v0.0.1-{release}.linux-amd64/bin/go"
        if go.exists():
            gofixtures.TOOLCHAINS.setdefault(name, (str(go), {"GOTOOLCHAIN": "local"}))


_register_cached_toolchains()


@functools.cache
def toolchain_ok(name: str) -> bool:
    return name in gofixtures.TOOLCHAINS and gofixtures.toolchain_available(name)


def need_toolchain(name: str) -> None:
    if not toolchain_ok(name):
        pytest.skip(f"Go toolchain {name} is not installed on this machine")


def go_env(toolchain: str) -> tuple[str, dict[str, str]]:
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
    from backends.live import dwarf_layouts

    monkeypatch.setattr(dwarf_layouts, "CACHE_DIR", tmp_path_factory.mktemp("gotui-cache"))
