"""What a session (or a share server) tells its listeners: one frozen dataclass per kind
of notice, and the Publisher that delivers them.

A listener may be called from any task (and the eBPF feed's from the event loop, after
a hop from its thread); it must be quick. One that raises is logged (backends/logs.py),
never allowed to break the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gotui.backends.logs import LOG
from gotui.backends.model import Event, Snapshot, TargetInfo, TargetState


@dataclass(frozen=True)
class StateChanged:
    """The target's run state changed (halted, running, exited)."""

    state: TargetState


@dataclass(frozen=True)
class EventArrived:
    """An event: eBPF lifecycle, tracepoint hits, probe status, log lines."""

    event: Event


@dataclass(frozen=True)
class ErrorRaised:
    """Something failed that nobody was waiting for (shown to the user)."""

    message: str


@dataclass(frozen=True)
class BackendChanged:
    """A stop backend attached or went away: the target info names the backends."""

    info: TargetInfo


@dataclass(frozen=True)
class PresenceChanged:
    """Who is connected to a shared session, who drives, who asks to (the protocol's
    presence message)."""

    presence: dict[str, Any]


@dataclass(frozen=True)
class DriverSelected:
    """A joiner in follow mode: the driver selected this goroutine and pane."""

    goroutine: int
    pane: str


@dataclass(frozen=True)
class SnapshotArrived:
    """A joiner: the host pushed a new snapshot."""

    snapshot: Snapshot


@dataclass(frozen=True)
class SourceChanged:
    """A joiner: the text of this source file has just arrived (read_source() returned
    [] for it before)."""

    path: str


Notice = (StateChanged | EventArrived | ErrorRaised | BackendChanged | PresenceChanged
          | DriverSelected | SnapshotArrived | SourceChanged)
Listener = Callable[[Notice], None]


class Publisher:
    """Delivers notices to its listeners, in the order they subscribed."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns what removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, notice: Notice) -> None:
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:  # a broken listener must not break the session: logged
                LOG.exception("listener %r failed on %r", listener, type(notice).__name__)
