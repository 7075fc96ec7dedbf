"""A breakpoint condition checked against the variables in scope at its location (DWARF),
before anything attaches to or stops the target: the README's own example
(`main.profileHandler`, `userID == 42`) failed on every request of the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from gotui.backends.gobinary.binary import BinaryFacts
from gotui.backends.gobinary.scopes import (
    ConditionScopeError,
    Scopes,
    check_condition,
    identifiers,
)
from gotui.backends.live.reader import LiveReader
from gotui.backends.model import Breakpoint, TargetInfo
from gotui.backends.session import Session

from tests import gofixtures

pytestmark = pytest.mark.integration

DEMO_GO = gofixtures.FIXTURES / "demo" / "main.go"


def line_of(prefix: str) -> int:
    for n, line in enumerate(DEMO_GO.read_text().splitlines(), 1):
        if line.strip().startswith(prefix):
            return n
    raise AssertionError(prefix)


@pytest.fixture(scope="module")
def scopes() -> Scopes:
    return Scopes(BinaryFacts.load(str(gofixtures.build("demo"))))


def test_identifiers_are_the_roots_a_condition_reads() -> None:
    assert identifiers('userID == 42 && r.URL.Path != "a b" && len(s) > n') == [
        "userID", "r", "s", "n"]
    assert identifiers("strings.HasPrefix(p.Name, `x`) || !ok") == ["strings", "p", "ok"]


def test_function_entry_has_only_its_parameters(scopes: Scopes) -> None:
    decl = line_of("userID, err := strconv.Atoi")
    p = check_condition(scopes, "main.profileHandler", "", 0, "userID == 42")
    assert p is not None
    assert p.message == (f"userID is declared at main.go:{decl}, not yet in scope at "
                         f"main.profileHandler (its entry, main.go:{decl - 1}): put the "
                         f"breakpoint at main.go:{decl + 1} or later")
    assert p.move_to == f"{DEMO_GO}:{decl + 1}"
    # the parameters, their fields, package variables and packages are fine at the entry
    for cond in ('r.URL.Path == "/api/v1/profile"', "w != nil", "requests.Load() > 3",
                 'strings.Contains(r.URL.RawQuery, "4")'):
        assert check_condition(scopes, "main.profileHandler", "", 0, cond) is None, cond


def test_file_line_from_the_line_after_the_declaration(scopes: Scopes) -> None:
    decl = line_of("userID, err := strconv.Atoi")
    assert check_condition(scopes, "", "main.go", decl + 1, "userID == 42") is None
    assert check_condition(scopes, "", str(DEMO_GO), decl + 1, "userID == 42") is None
    p = check_condition(scopes, "", "main.go", decl, "userID == 42")
    assert p is not None and p.move_to == f"{DEMO_GO}:{decl + 1}"
    p = check_condition(scopes, "", "main.go", decl + 1, "nosuch > 1")
    assert p is not None and p.move_to == "" and "nosuch is not a variable" in p.message


async def test_the_session_refuses_before_stopping_the_target() -> None:
    """No stop backend is made (nothing attaches, the target never stops) for a
    condition that cannot work; one that can goes on to the stop backend."""
    exe = gofixtures.build("demo")
    made: list[int] = []

    async def factory() -> object:
        made.append(1)
        raise RuntimeError("would attach")

    with gofixtures.run(exe, "-addr", "127.0.0.1:0") as t:
        reader = LiveReader(t.pid)
        session = Session(TargetInfo(t.pid, str(exe), backend="live"), live=reader,
                          stop_factory=factory)  # type: ignore[arg-type]
        with pytest.raises(ConditionScopeError) as err:
            await session.create_breakpoint(Breakpoint(function="main.profileHandler",
                                                       cond="userID == 42"))
        assert made == [] and err.value.move_to.endswith("main.go:116")
        with pytest.raises(RuntimeError, match="would attach"):
            await session.create_breakpoint(Breakpoint(file=err.value.move_to.split(":")[0],
                                                       line=116, cond="userID == 42"))
        assert made == [1]
        reader.close()
        assert gofixtures.tracer_pid(t.pid) == 0


def test_demo_line_numbers_match_the_readme() -> None:
    """The README tells users to break at main.go:116 with `userID == 42`."""
    assert line_of("userID, err := strconv.Atoi") == 115
    readme = (Path(gofixtures.ROOT) / "README.md").read_text()
    assert "main.go:116" in readme and "userID == 42" in readme
