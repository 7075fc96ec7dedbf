"""The suite cannot depend on what a machine happens to have: a missing toolchain is a
skip with a standard reason (never a KeyError), and only allow-listed skips pass a run."""

from __future__ import annotations

import pytest

from tests import gofixtures
from tests.conftest import _allowed_skip_patterns


def allowed(reason: str) -> bool:
    return any(p.search(reason) for p in _allowed_skip_patterns())


def test_unknown_or_missing_toolchain_is_a_skip_not_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert gofixtures.toolchain_available("go1.99") is False
    with pytest.raises(pytest.skip.Exception, match="Go toolchain go1.99 is not installed"):
        gofixtures.need_toolchain("go1.99")
    # an optional toolchain missing from this machine's module cache
    monkeypatch.delitem(gofixtures.TOOLCHAINS, "go1.23", raising=False)
    monkeypatch.setattr(gofixtures, "_available", {})
    with pytest.raises(pytest.skip.Exception):
        gofixtures.build("basic", toolchain="go1.23")


def test_every_known_toolchain_has_one_wording() -> None:
    for name in gofixtures.ALL_TOOLCHAINS:
        assert gofixtures.skip_reason(name) == f"Go toolchain {name} is not installed on this machine"


def test_allowlist_takes_only_the_optional_toolchains() -> None:
    for name in gofixtures.OPTIONAL_RELEASES:
        assert allowed(gofixtures.skip_reason(name))
    for name in gofixtures.MAIN_TOOLCHAINS:  # `make setup` installs these
        assert not allowed(gofixtures.skip_reason(name))
    assert not allowed("dlv is not installed on this machine")
    assert not allowed("eBPF unavailable on this host: no kernel headers")
