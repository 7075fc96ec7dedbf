"""Every key binding of the TUI, each with an id a user keymap file can rebind.

A keymap file maps binding ids to keys (comma-separated for several), in TOML
(`~/.config/gotui/keymap.toml`) or JSON:

    continue = "f8,c"
    "goroutines.filter" = "ctrl+f"
"""

from __future__ import annotations

import contextlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gotui.backends.isolation import own_home
from gotui.backends.safefiles import unsafe_reason
from textual.binding import Binding

# the effective user's own home: under `sudo -E`, $HOME may still be a user's
DEFAULT_KEYMAP_PATH = Path(own_home()) / ".config" / "gotui" / "keymap.toml"


@dataclass(frozen=True)
class KeySpec:
    id: str
    keys: str
    action: str
    description: str
    show: bool = True
    priority: bool = False


# scope -> specs. "app" bindings work everywhere; the others when that pane has focus.
# Keys that open a text field are priority bindings: the App moves the focus the moment
# the key arrives, so the keys typed after it in one burst (a paste, an SSH link that
# caught up) go into the field. Otherwise they were already queued to the widget that
# had the focus and ran its bindings: "/net.worker" typed while halted stepped the
# target ("n"). Such bindings step aside while a text field has the focus.
SPECS: dict[str, tuple[KeySpec, ...]] = {
    "app": (
        KeySpec("continue", "c,f5", "cont", "Continue"),
        KeySpec("halt", "h,f6,f17", "halt", "Halt"),
        KeySpec("next", "n,f10", "next", "Next"),
        KeySpec("step", "s,f11", "step", "Step"),
        KeySpec("step_out", "o,f,f23", "step_out", "Step out"),
        KeySpec("eval", "e,colon", "focus_eval", "Eval", priority=True),
        KeySpec("breakpoint.add", "b", "add_breakpoint", "Breakpoint"),
        KeySpec("breakpoint.toggle_here", "f9", "toggle_breakpoint_here",
                "Toggle breakpoint at source line", show=False),
        KeySpec("refresh.pause", "p", "toggle_refresh", "Pause refresh"),
        KeySpec("refresh.now", "ctrl+r", "refresh_now", "Refresh now", show=False),
        KeySpec("refresh.faster", "plus", "refresh_faster", "Refresh faster", show=False),
        KeySpec("refresh.slower", "minus", "refresh_slower", "Refresh slower", show=False),
        KeySpec("pane.goroutines", "1", "show_pane('goroutines')", "Goroutines pane", show=False),
        KeySpec("pane.stack", "2", "show_pane('stack')", "Stack pane", show=False),
        KeySpec("pane.variables", "3", "show_pane('variables')", "Variables pane", show=False),
        KeySpec("pane.source", "4", "show_pane('source')", "Source pane", show=False),
        KeySpec("pane.breakpoints", "5", "show_pane('breakpoints')", "Breakpoints pane",
                show=False),
        KeySpec("pane.eval", "6", "show_pane('eval')", "Eval log pane", show=False),
        KeySpec("pane.channels", "7", "show_pane('channels')",
                "Blocking pane (channels, locks, IO)", show=False),
        KeySpec("pane.findings", "8", "show_pane('findings')", "Findings pane", show=False),
        KeySpec("pane.lifecycle", "9", "show_pane('lifecycle')", "Lifecycle pane", show=False),
        KeySpec("pane.tracepoints", "0", "show_pane('tracepoints')", "Tracepoints pane",
                show=False),
        KeySpec("tracepoint.add", "t", "add_tracepoint", "Tracepoint", show=False),
        KeySpec("goroutine.why", "w", "why_stuck", "Why stuck? (its wait-for chain)", show=False),
        KeySpec("help", "question_mark", "help", "Help"),
        KeySpec("quit", "q", "quit_dialog", "Quit"),
        KeySpec("detach", "ctrl+c", "detach", "Resume, detach and exit", show=False,
                priority=True),
    ),
    # app-wide too; the footer shows them only where they apply (a joiner, a driver asked)
    "share": (
        KeySpec("share.follow", "F", "toggle_follow", "Follow driver", show=False),
        KeySpec("share.request_drive", "D", "request_drive", "Ask to drive", show=False),
        KeySpec("share.grant_drive", "ctrl+g", "grant_drive",
                "Hand over / take back the wheel", show=False),
        KeySpec("share.clients", "K", "share_clients", "Clients: kick, new tokens",
                show=False),
    ),
    # the host's list of connected clients (K)
    "share_clients": (
        KeySpec("share_clients.kick", "k,delete", "kick", "Remove the client"),
        KeySpec("share_clients.rotate", "r", "rotate(False)", "New tokens"),
        KeySpec("share_clients.rotate_kick", "R", "rotate(True)", "New tokens, drop everyone"),
        KeySpec("share_clients.close", "escape,q", "dismiss", "Close"),
    ),
    "goroutines": (
        KeySpec("goroutines.filter", "slash", "filter", "Filter", priority=True),
        KeySpec("goroutines.jump", "g", "jump", "Jump to id", priority=True),
        KeySpec("goroutines.group", "G", "cycle_group", "Group"),
        KeySpec("goroutines.sort", "S", "cycle_sort", "Sort"),
        KeySpec("goroutines.location", "u", "toggle_location",
                "Location: own code / runtime", show=False),
        KeySpec("goroutines.clear_filter", "escape", "clear_filter", "Clear filter", show=False),
    ),
    "goroutine_list": (
        KeySpec("goroutines.select", "enter", "select", "Switch / expand", show=False),
        KeySpec("goroutines.collapse", "space", "collapse", "Collapse group", show=False),
        KeySpec("goroutines.collapse_all", "z", "collapse_all", "Collapse all groups",
                show=False),
        KeySpec("goroutines.up", "up,k", "cursor(-1)", "Up", show=False),
        KeySpec("goroutines.down", "down,j", "cursor(1)", "Down", show=False),
        KeySpec("goroutines.page_up", "pageup", "page(-1)", "Page up", show=False),
        KeySpec("goroutines.page_down", "pagedown", "page(1)", "Page down", show=False),
        KeySpec("goroutines.home", "home", "cursor_to(0)", "First", show=False),
        KeySpec("goroutines.end", "end", "cursor_to(-1)", "Last", show=False),
    ),
    "stack": (
        KeySpec("stack.runtime", "r", "toggle_runtime", "Runtime frames"),
    ),
    "source": (
        KeySpec("source.up", "up,k", "cursor(-1)", "Up", show=False),
        KeySpec("source.down", "down,j", "cursor(1)", "Down", show=False),
        KeySpec("source.page_up", "pageup", "cursor(-10)", "Page up", show=False),
        KeySpec("source.page_down", "pagedown", "cursor(10)", "Page down", show=False),
        KeySpec("source.current", "period", "to_current", "Current line", show=False),
    ),
    "eval": (
        KeySpec("eval.leave", "escape", "app.show_pane('goroutines')", "Back to the goroutines", show=False),
    ),
    "lifecycle": (
        KeySpec("lifecycle.sort", "S", "cycle_sort", "Sort live / created/s"),
        KeySpec("lifecycle.choose", "enter", "choose", "Its goroutines", show=False),
    ),
    "tracepoints": (
        KeySpec("tracepoints.add", "a", "add", "Add tracepoint"),
        KeySpec("tracepoints.remove", "d,delete", "remove", "Remove"),
        KeySpec("tracepoints.clear", "x", "clear", "Clear log"),
    ),
    "breakpoints": (
        KeySpec("breakpoints.edit", "E,enter", "edit", "Edit"),
        KeySpec("breakpoints.toggle", "space", "toggle", "Enable/disable"),
        KeySpec("breakpoints.delete", "d,delete", "delete", "Delete"),
    ),
}


# What a backend may say the user needs to do (model.NeedsAction.action) -> the binding
# that does it.
ACTION_BINDINGS = {"halt": "halt", "drive": "share.request_drive"}


def spec(binding_id: str) -> KeySpec:
    return next(s for specs in SPECS.values() for s in specs if s.id == binding_id)


def action_hint(action: str, keymap: dict[str, str]) -> str:
    """'press h' for a NeedsAction action, with the user's first key for it."""
    binding_id = ACTION_BINDINGS.get(action)
    if binding_id is None:
        return ""
    first = keys_for(spec(binding_id), keymap).split(",")[0].strip()
    return f"press {first}" if first else ""


def bindings(scope: str) -> list[Binding]:
    return [Binding(s.keys, s.action, s.description, show=s.show, id=s.id,
                    priority=s.priority) for s in SPECS[scope]]


def all_ids() -> set[str]:
    return {s.id for specs in SPECS.values() for s in specs}


def keys_for(spec: KeySpec, keymap: dict[str, str]) -> str:
    return keymap.get(spec.id, spec.keys)


def load_keymap(path: str | Path) -> dict[str, str]:
    """Read a TOML or JSON keymap file; raises ValueError with a one-line reason.

    A missing file is an empty keymap."""
    p = Path(path).expanduser()
    if not p.exists():
        return {}
    with contextlib.suppress(OSError):
        why = unsafe_reason(p.stat(), "it")  # another user's keys would drive us
        if why:
            raise ValueError(f"not using keymap {p}: {why}")
    try:
        text = p.read_text(encoding="utf-8")
        raw = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read keymap {p}: {exc}") from None
    if isinstance(raw.get("keymap"), dict):
        raw = raw["keymap"]
    known = all_ids()
    keymap: dict[str, str] = {}
    for binding_id, keys in raw.items():
        if binding_id not in known:
            raise ValueError(f"keymap {p}: unknown binding id {binding_id!r}")
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keys = ",".join(keys)
        if not isinstance(keys, str) or not keys.strip():
            raise ValueError(f"keymap {p}: keys for {binding_id!r} must be a string")
        keymap[binding_id] = ",".join(k.strip() for k in keys.split(","))
    return keymap
