"""Audit: the DWARF layout cache, when another user can write the cache directory.

As root under `sudo -E`, $XDG_CACHE_HOME / $HOME still name a user's directories. The
cache used to be read from there as is (a planted layout with wrong offsets was trusted)
and written through a predictable temp name (layouts-...-<build id>.<pid>.tmp), so a
symlink planted there made root overwrite any file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gotui.backends.gobinary import dwarf_layouts
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.buildinfo import build_id as read_build_id
from gotui.backends.gobinary.elffile import ElfFile

NOBODY = 65534
BOGUS_GOID = 12345

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")


@pytest.fixture
def foreign_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory owned by another user (who may plant anything in it)."""
    cache = tmp_path / "usercache" / "gotui"
    cache.mkdir(parents=True)
    os.chown(cache, NOBODY, NOBODY)
    monkeypatch.setattr(dwarf_layouts, "CACHE_DIR", cache)
    return cache


def test_a_cache_planted_by_another_user_is_not_trusted(
        foreign_cache: Path, basic_exe: Path) -> None:
    build_id = BinaryFacts.load(str(basic_exe)).build_id  # reads DWARF; may not write
    planted = dwarf_layouts.cache_path(build_id)
    good = dwarf_layouts.layouts_from_dwarf(str(basic_exe))
    bogus = json.loads(json.dumps(dwarf_layouts.layouts_to_json(good)))
    bogus["runtime.g"]["offsets"]["goid"] = BOGUS_GOID
    planted.write_text(json.dumps(bogus))
    os.chown(planted, NOBODY, NOBODY)
    facts = BinaryFacts.load(str(basic_exe))
    assert facts.layouts["runtime.g"].offsets["goid"] == good["runtime.g"].offsets["goid"]


def test_root_never_writes_through_a_planted_symlink(
        foreign_cache: Path, basic_exe: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    bid = read_build_id(ElfFile(str(basic_exe)))
    cache = dwarf_layouts.cache_path(bid)
    for name in (cache.with_suffix(f".{os.getpid()}.tmp"), cache):
        name.symlink_to(victim)
    dwarf_layouts.cached_layouts_from_dwarf(ElfFile(str(basic_exe)), bid)
    assert victim.read_text() == "precious\n"


def test_our_own_cache_still_works(tmp_path: Path, basic_exe: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dwarf_layouts, "CACHE_DIR", tmp_path / "own" / "gotui")
    BinaryFacts.load(str(basic_exe))
    files = list((tmp_path / "own" / "gotui").iterdir())
    assert [f.name for f in files if f.name.startswith("layouts-")], files
    assert all(f.stat().st_mode & 0o077 == 0 for f in files)
    assert (tmp_path / "own" / "gotui").stat().st_mode & 0o777 == 0o700


def test_root_uses_a_cache_home_only_if_it_is_roots(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Under `sudo -E`, $XDG_CACHE_HOME may name a user's directory: as root it is used
    only when it is root's and only root can write it; else root's own ~/.cache."""
    from gotui.backends.cachedir import cache_root
    from gotui.backends.isolation import own_home

    if os.geteuid() != 0:
        pytest.skip("the rule is about running as root")
    users = tmp_path / "users-cache"
    users.mkdir()
    os.chown(users, 65534, 65534)
    monkeypatch.setenv("XDG_CACHE_HOME", str(users))
    assert cache_root() == Path(own_home()) / ".cache"
    mine = tmp_path / "roots-cache" / "not-yet"  # its nearest existing ancestor is root's
    (tmp_path / "roots-cache").mkdir(mode=0o700)
    monkeypatch.setenv("XDG_CACHE_HOME", str(mine))
    assert cache_root() == mine
    os.chmod(tmp_path / "roots-cache", 0o777)
    assert cache_root() == Path(own_home()) / ".cache"
