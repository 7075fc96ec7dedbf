"""Keymap files (TOML / JSON) and the 16-colour detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from gotui.tui.keymap import SPECS, all_ids, load_keymap
from gotui.tui.theme import terminal_prefers_ansi


def test_every_binding_has_a_unique_id() -> None:
    ids = [s.id for specs in SPECS.values() for s in specs]
    assert len(ids) == len(set(ids)) == len(all_ids())


def test_toml_and_json_keymaps(tmp_path: Path) -> None:
    toml = tmp_path / "keymap.toml"
    toml.write_text('continue = "f8, c"\n[keymap]\nhalt = ["f7", "h"]\n')
    assert load_keymap(toml) == {"halt": "f7,h"}  # a [keymap] table wins over top level
    toml.write_text('continue = "f8, c"\n"goroutines.filter" = "ctrl+f"\n')
    assert load_keymap(toml) == {"continue": "f8,c", "goroutines.filter": "ctrl+f"}
    js = tmp_path / "keymap.json"
    js.write_text('{"step_out": "f12"}')
    assert load_keymap(js) == {"step_out": "f12"}
    assert load_keymap(tmp_path / "missing.toml") == {}


@pytest.mark.parametrize(("name", "text", "message"), [
    ("k.toml", "continue = ", "cannot read keymap"),
    ("k.json", "{", "cannot read keymap"),
    ("k.toml", 'nope = "x"', "unknown binding id 'nope'"),
    ("k.toml", "continue = 5", "must be a string"),
    ("k.toml", 'continue = " "', "must be a string"),
])
def test_bad_keymaps_say_why(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_keymap(path)


@pytest.mark.parametrize(("env", "ansi"), [
    ({"NO_COLOR": "1", "TERM": "xterm-256color"}, True),
    ({"TERM": "linux"}, True),
    ({"TERM": "screen"}, True),
    ({"TERM": "xterm-256color"}, False),
    ({"TERM": "xterm", "COLORTERM": "truecolor"}, False),
    ({"TERM": "tmux-256color"}, False),
    ({}, False),
])
def test_sixteen_colour_detection(env: dict[str, str], ansi: bool) -> None:
    assert terminal_prefers_ansi(env) is ansi
