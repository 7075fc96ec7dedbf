"""A listener that raises is logged (to gotui's private log file), not dropped, and the
session goes on; nothing is written over the terminal."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from gotui.backends import logs
from gotui.backends.model import TargetState
from gotui.backends.notices import Notice, Publisher, StateChanged


def test_broken_listener_is_logged_and_the_others_still_hear(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gotui" / "gotui.log"
    before = list(logs.LOG.handlers)
    logs.log_to_file(path)
    try:
        heard: list[str] = []

        def broken(notice: Notice) -> None:
            raise RuntimeError("listener bug")

        bus = Publisher()
        bus.subscribe(broken)
        bus.subscribe(lambda notice: heard.append(type(notice).__name__))
        assert not path.exists()  # nothing logged yet: no file
        bus.publish(StateChanged(TargetState(running=True)))
        assert heard == ["StateChanged"]
        text = path.read_text()
        assert "listener bug" in text and "Traceback" in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        out = capsys.readouterr()
        assert out.out == "" and out.err == ""
    finally:
        for h in logs.LOG.handlers[:]:
            if h not in before:
                logs.LOG.removeHandler(h)
        logs.LOG.setLevel(logging.NOTSET)
