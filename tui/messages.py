"""Textual messages: session notifications and selections between panes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gotui.backends.model import Breakpoint, Event, Finding, Frame, TargetInfo, TargetState
from textual.message import Message

if TYPE_CHECKING:
    from gotui.tui.lifecycle_model import SiteRow


class StateChanged(Message):
    """The target started running or stopped (from Session 'state')."""

    def __init__(self, state: TargetState) -> None:
        super().__init__()
        self.state = state


class SessionEvent(Message):
    """A backend event (from Session 'event')."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class SessionError(Message):
    """A one-line error reported by the session (from Session 'error')."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class BackendChanged(Message):
    """The session attached or changed a backend (from Session 'backend')."""

    def __init__(self, info: TargetInfo) -> None:
        super().__init__()
        self.info = info


class GoroutineSelected(Message):
    """The goroutine list's cursor moved to a goroutine."""

    def __init__(self, goid: int) -> None:
        super().__init__()
        self.goid = goid


class GoroutineActivated(Message):
    """Enter on a goroutine: switch to it (when halted)."""

    def __init__(self, goid: int) -> None:
        super().__init__()
        self.goid = goid


class FrameSelected(Message):
    """A stack frame was highlighted; `index` is its depth in the full stack."""

    def __init__(self, goid: int, index: int, frame: Frame) -> None:
        super().__init__()
        self.goid = goid
        self.index = index
        self.frame = frame


class BreakpointAction(Message):
    """The breakpoints pane asks the app to edit, toggle or delete a breakpoint."""

    def __init__(self, action: str, breakpoint: Breakpoint) -> None:
        super().__init__()
        self.action = action
        self.breakpoint = breakpoint


class EvalRequested(Message):
    """The eval prompt submitted an expression."""

    def __init__(self, expr: str) -> None:
        super().__init__()
        self.expr = expr


class PresenceChanged(Message):
    """Who is connected to a shared session and who drives (from Session 'presence')."""

    def __init__(self, presence: dict[str, object]) -> None:
        super().__init__()
        self.presence = presence


class DriverSelected(Message):
    """The driver's selected goroutine and pane, for a follower (from Session 'select')."""

    def __init__(self, goroutine: int, pane: str) -> None:
        super().__init__()
        self.goroutine = goroutine
        self.pane = pane


class ChannelChosen(Message):
    """Enter on a row: show its waiting goroutines (`addr` is the goroutine filter: a
    channel or lock address, or a group's filter text)."""

    def __init__(self, addr: str) -> None:
        super().__init__()
        self.addr = addr


class HolderChosen(Message):
    """Enter on a lock's holder row: go to that goroutine."""

    def __init__(self, goid: int) -> None:
        super().__init__()
        self.goid = goid


class FindingChosen(Message):
    """Enter on a finding: go to its goroutines."""

    def __init__(self, finding: Finding) -> None:
        super().__init__()
        self.finding = finding


class SiteChosen(Message):
    """Enter on a creation site: show its goroutines."""

    def __init__(self, row: SiteRow) -> None:
        super().__init__()
        self.row = row


class TracepointChosen(Message):
    """The pane asks the app to remove a tracepoint."""

    def __init__(self, action: str, key: str = "") -> None:
        super().__init__()
        self.action = action
        self.key = key
