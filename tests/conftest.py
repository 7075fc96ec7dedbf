"""Shared pytest set-up. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import sys
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
