"""The host's source files a client may read: only those the share has shown.

A file is shown when a published snapshot, a stack, a breakpoint or a stop location
names it (or it is where the target stopped). Reading goes through the session, which
confines it further (backends/sourcefiles.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from gotui.backends.remote.fields import ProtocolError
from gotui.backends.session import Session
from gotui.backends.sourcefiles import MAX_SOURCE_BYTES, SOURCE_SUFFIXES


class SharedSources:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.files: set[str] = set()

    def add(self, files: Iterable[str]) -> None:
        self.files.update(files)

    def note(self, value: Any) -> Any:
        """Remember the files named (`file` fields) in a JSON answer; returns it."""
        if isinstance(value, dict):
            file = value.get("file")
            if isinstance(file, str) and file:
                self.files.add(file)
        elif isinstance(value, list):
            for item in value:
                self.note(item)
        return value

    async def read(self, path: str) -> list[str]:
        if not path.endswith(SOURCE_SUFFIXES):
            raise ProtocolError(f"read_source: only source files can be read, not {path!r}",
                                code="failed")
        current = self.session.state.current
        if path not in self.files and path != (current.file if current else ""):
            raise ProtocolError(f"read_source: {path!r} is not a file of this target",
                                code="failed")
        lines = await asyncio.to_thread(self.session.read_source, path)
        if sum(len(line) + 1 for line in lines) > MAX_SOURCE_BYTES:
            raise ProtocolError(f"read_source: {path!r} is too large", code="too_large")
        return lines
