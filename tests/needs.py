"""What a test needs from the machine, found the way the product finds it.

`make setup` installs all of these, so a skip for one of them is not on
tests/skip_allowlist.toml: on a machine set up by `make test` it fails the run."""

from __future__ import annotations

import shutil

import pytest
from gotui.backends.delve.process import find_dlv
from gotui.backends.model import GotuiError


def dlv_path() -> str | None:
    """The dlv the product would run ($GOTUI_DLV, $PATH, $GOPATH/bin), or None."""
    try:
        return find_dlv()
    except GotuiError:
        return None


def need_dlv() -> None:
    if dlv_path() is None:
        pytest.skip("dlv is not installed on this machine (make setup installs it)")


def need_program(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed on this machine (make setup installs it)")


requires_dlv = pytest.mark.skipif(dlv_path() is None,
                                  reason="dlv is not installed on this machine "
                                         "(make setup installs it)")
requires_gdb = pytest.mark.skipif(shutil.which("gdb") is None,
                                  reason="gdb is not installed on this machine "
                                         "(make setup installs it)")
