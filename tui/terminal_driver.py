"""The terminal driver: a bare Escape reaches the app ESCAPE_DELAY after the key, not
100-200 ms after it.

A terminal sends Escape as the byte that also starts every escape sequence (arrows,
function keys), so a parser only knows it was Escape when nothing follows within a
delay. Textual's input thread waits for input in `select()` for up to 100 ms at a time
and looks at that delay only when `select()` returns: a bare Escape reached the app
100-200 ms after the key (117 ms measured closing help at 100k goroutines), whatever
the delay. Here the thread waits only until the parser's deadline when one is pending.

The delay is 10 ms, tmux's own, unless $ESCDELAY (ms, as for curses) says otherwise: a
terminal writes a key's whole sequence at once, so it comes in one read, locally,
through tmux and through SSH (one write, one packet). Neovim waits 50 ms, curses 1 s,
Textual 100 ms; at 20 ms here, closing a dialog with Escape at 100k goroutines took
34-55 ms in tmux while refreshes ran.

The class is also given to Textual explicitly, so $TEXTUAL_DRIVER (a module Textual
would import by name) is never consulted."""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual import constants
from textual._parser import ParseError, Parser
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

ESCAPE_DELAY_MS = 10
IDLE_WAIT = 0.1  # s in select() with no escape sequence pending (Textual's own)


def escape_delay(env: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """Seconds the parser waits after an Escape byte for the rest of a sequence."""
    text = env.get("ESCDELAY", "")
    if text.isdigit() and int(text) >= 1:
        return int(text) / 1000
    return ESCAPE_DELAY_MS / 1000


def input_wait(parser: Parser[object], now: float) -> float:
    """How long the input thread may wait for input: until the parser's deadline (a
    bare Escape is then sent on), or IDLE_WAIT when none is pending."""
    deadline = parser._timeout_time
    if deadline is None:
        return IDLE_WAIT
    return min(max(deadline - now, 0.0), IDLE_WAIT)


class GotuiDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        """Textual 8's LinuxDriver.run_input_thread, but for the time in select()."""
        constants.ESCAPE_DELAY = escape_delay()  # type: ignore[misc]  # read per sequence
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for n, (_key, mask) in enumerate(ready, 1):
                if mask & selectors.EVENT_READ:
                    text = decode(os.read(self.fileno, 1024 * 4), final=final and n == len(ready))
                    if not text:  # (stdin piped and closed)
                        break
                    for event in parser.feed(text):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(input_wait(parser, get_time())))
            selector.unregister(self.fileno)
            process(selector.select(IDLE_WAIT), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
