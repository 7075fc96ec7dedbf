"""Shared pytest set-up. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def basic_exe() -> Path:
    """tests/fixtures/basic built with the machine's Go (cached)."""
    from tests import gofixtures

    return gofixtures.build("basic")


# ----------------------------------------------------------------- skip policy
# A skip hides a check: a full run fails on any skip whose reason is not allowed by
# tests/skip_allowlist.toml (each entry says why that skip is legitimate).

_SKIPS: list[tuple[str, str]] = []


def _allowed_skip_patterns() -> list[re.Pattern[str]]:
    with open(ROOT / "tests" / "skip_allowlist.toml", "rb") as fh:
        return [re.compile(entry["pattern"]) for entry in tomllib.load(fh)["allow"]]


def skip_reason_of(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPS.append((report.nodeid, skip_reason_of(report)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    allowed = _allowed_skip_patterns()
    bad = [(node, why) for node, why in _SKIPS if not any(p.search(why) for p in allowed)]
    if not bad:
        return
    writer = session.config.get_terminal_writer()
    writer.line()
    writer.line(f"{len(bad)} test(s) skipped for a reason not in tests/skip_allowlist.toml "
                "(a skip hides a check: fix the machine or the test):", red=True)
    for node, why in bad:
        writer.line(f"  {node}: {why}", red=True)
    if session.exitstatus == 0:
        session.exitstatus = 1
