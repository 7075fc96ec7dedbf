"""TUI test set-up: a fixed time zone, a fixed clock and a fake session."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from gotui.tui.app import GotuiApp

from tests.tui.fakes import STABLE_ENV, UNSET_ENV, RecordingSession, make_session

FIXED_NOW = 1_700_000_042.0  # 42 s after FakeStop halts


@pytest.fixture(autouse=True)
def _stable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STABLE_ENV.items():
        monkeypatch.setenv(name, value)
    for name in UNSET_ENV:
        monkeypatch.delenv(name, raising=False)
    time.tzset()


@pytest.fixture
def session(tmp_path: Path) -> RecordingSession:
    return make_session(tmp_path)


def make_app(session: RecordingSession, **kwargs: object) -> GotuiApp:
    kwargs.setdefault("keymap_path", os.devnull + ".missing.toml")
    kwargs.setdefault("start_session", True)  # the CLI starts it before the app
    return GotuiApp(session, clock=lambda: FIXED_NOW, **kwargs)  # type: ignore[arg-type]
