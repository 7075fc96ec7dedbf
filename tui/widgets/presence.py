"""One line: who is connected to a shared session, who drives, who asks to."""

from __future__ import annotations

from textual.widgets import Static


class PresenceBar(Static):
    DEFAULT_CSS = """
    PresenceBar {
        display: none;
        height: 1;
        padding: 0 1;
        background: $boost;
        color: $text-muted;
    }
    """

    def __init__(self, text: str = "", *, id: str | None = None) -> None:  # noqa: A002
        # names and addresses come from peers: never markup
        super().__init__(text, id=id, markup=False)
        self._text = text
        self.display = bool(text)

    def show_line(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.display = bool(text)
            self.update(text)
