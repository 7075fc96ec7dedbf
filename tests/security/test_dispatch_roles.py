"""Issue 11: a stateful property test of the share server's dispatch with roles.

Random sequences of protocol messages from viewer-token and driver-token clients, over
real websockets to a real ShareServer and Session (fake backends behind the Session
interface, tests/remote/fakes.py). Invariant: a message from a client that is not
driving never changes the target's run state or its breakpoints; a message from a
viewer-token client never changes who drives either (and never lands in the request
list); a driver-token client that is not driving can only take a free wheel."""

from __future__ import annotations

import asyncio
from typing import Any

from gotui.backends.remote.commands import COMMANDS, Viewers
from gotui.backends.remote.protocol import PANES
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.remote.conftest import WAIT_S, Host, Raw, make_host, raw_connect

CLIENTS = ("v1", "v2", "d1", "d2")  # token kind by first letter
RUN_VERBS = frozenset({"cont", "halt", "next", "step", "step_out", "create_breakpoint",
                       "clear_breakpoint"})

bp_args = st.fixed_dictionaries({}, optional={
    "function": st.sampled_from(["main.hot", "main.worker"]),
    "id": st.integers(1, 3), "cond": st.sampled_from(["", "i > 1"]),
    "enabled": st.booleans()})
COMMAND_ARGS: dict[str, Any] = {
    "snapshot": st.fixed_dictionaries({}, optional={"stacks": st.booleans()}),
    "stack": st.fixed_dictionaries({"goid": st.integers(0, 6)},
                                   optional={"depth": st.integers(1, 8)}),
    "locals": st.fixed_dictionaries({"goid": st.integers(0, 6), "frame": st.integers(0, 2)}),
    "args": st.fixed_dictionaries({"goid": st.integers(0, 6), "frame": st.integers(0, 2)}),
    "eval": st.fixed_dictionaries({"expr": st.sampled_from(["i", "1+1"])}),
    "breakpoints": st.just({}),
    "create_breakpoint": st.fixed_dictionaries({"breakpoint": bp_args}),
    "amend_breakpoint": st.fixed_dictionaries({"breakpoint": bp_args}),
    "move_breakpoint": st.fixed_dictionaries({"breakpoint": bp_args}),
    "clear_breakpoint": st.fixed_dictionaries({"id": st.integers(1, 3)}),
    "continue": st.just({}), "halt": st.just({}), "next": st.just({}),
    "step": st.just({}), "step_out": st.just({}),
    "switch_goroutine": st.fixed_dictionaries({"goid": st.integers(1, 5)}),
    "read_source": st.fixed_dictionaries({"path": st.sampled_from(
        ["/src/app/main.go", "/etc/passwd", "/src/app/other.go"])}),
    "ensure_stop": st.just({}),
}
# what a viewer may run (commands.py), each served without touching the run state
VIEWER_COMMANDS = {"snapshot": Viewers.PUBLISHED, "stack": Viewers.SHARED_READ,
                   "locals": Viewers.SHARED_READ, "args": Viewers.SHARED_READ,
                   "breakpoints": Viewers.KEPT, "read_source": Viewers.CONFINED}


def test_the_property_test_sends_every_command() -> None:
    """A command added to the table is added here too, or this test fails."""
    assert set(COMMAND_ARGS) == set(COMMANDS)


def test_viewers_may_run_only_the_read_only_commands() -> None:
    """Letting viewers run one more command, or serving one differently, is a decision
    to make here, not a side effect of a table edit."""
    assert {name: c.viewers for name, c in COMMANDS.items()
            if c.viewers is not Viewers.NEVER} == VIEWER_COMMANDS
    snapshot = COMMANDS["snapshot"]
    assert not snapshot.viewer_may({"stacks": True}) and snapshot.viewer_may({})


commands = st.sampled_from(sorted(COMMAND_ARGS)).flatmap(
    lambda name: COMMAND_ARGS[name].map(lambda args: {"type": "command", "name": name,
                                                      "args": args}))
others = st.one_of(
    st.just({"type": "request_drive"}),
    st.builds(lambda to: {"type": "grant_drive", "to": to},
              st.sampled_from([*CLIENTS, "host", "nobody"])),
    st.builds(lambda on: {"type": "follow", "on": on}, st.booleans()),
    st.builds(lambda g, p: {"type": "select", "goroutine": g, "pane": p},
              st.integers(0, 6), st.sampled_from(PANES)),
    st.just({"type": "resync"}))
messages = st.one_of(commands, others)


class DispatchWithRoles(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.host: Host | None = None
        self.clients: dict[str, Raw] = {}
        self.ids: dict[str, str] = {}  # name -> server client id
        self.serial = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, WAIT_S))

    @initialize(host_drives=st.booleans())
    def start(self, host_drives: bool) -> None:
        async def setup() -> None:
            self.host = await make_host(host_drives=host_drives, count=5)
            for name in CLIENTS:
                token = (self.host.server.driver_token if name[0] == "d"
                         else self.host.server.viewer_token)
                raw = await raw_connect(self.host.url, token)
                self.ids[name] = (await raw.of_type("hello"))["you"]
                self.clients[name] = raw

        self.run(setup())

    def teardown(self) -> None:
        async def down() -> None:
            for raw in self.clients.values():
                await raw.close()
            if self.host is not None:
                await self.host.server.close()
                await self.host.session.close()

        try:
            self.run(down())
        finally:
            self.loop.close()

    def observe(self) -> tuple[Any, ...]:
        assert self.host is not None
        stop, server = self.host.stop, self.host.server
        bps = sorted((b.id, b.function, b.cond, b.enabled) for b in stop.bps.values())
        verbs = sum(1 for c in stop.calls if c in RUN_VERBS)
        return (self.host.session.state.running, stop.running, tuple(bps), verbs,
                server.driver)

    async def exchange(self, raw: Raw, msg: dict[str, Any]) -> None:
        """Send msg, then wait until the server has dealt with it: its own answer for a
        command, else the answer to a read-only barrier sent right behind it."""
        self.serial += 1
        if msg["type"] == "command":
            msg = {**msg, "id": f"m{self.serial}"}
            await raw.send(msg)
            await raw.next(lambda m: m.get("id") == msg["id"])
            return
        await raw.send(msg)
        barrier = f"b{self.serial}"
        await raw.send({"type": "command", "name": "breakpoints", "args": {}, "id": barrier})
        await raw.next(lambda m: m.get("id") == barrier)

    @rule(name=st.sampled_from(CLIENTS), msg=messages)
    def send(self, name: str, msg: dict[str, Any]) -> None:
        assert self.host is not None
        server = self.host.server
        if msg["type"] == "grant_drive" and msg["to"] in self.ids:
            msg = {**msg, "to": self.ids[msg["to"]]}
        me = self.ids[name]
        driving = server.driver == me
        before = self.observe()
        self.run(self.exchange(self.clients[name], msg))
        after = self.observe()
        if driving:
            return
        # not driving: the target's run state and breakpoints never change
        assert after[:4] == before[:4], (name, msg, before, after)
        if name[0] == "v":  # a viewer token: nor does who drives
            assert after[4] == before[4], (name, msg, before, after)
        elif after[4] != before[4]:  # a driver token may only take a free wheel
            assert before[4] is None and after[4] == me and msg["type"] == "request_drive"

    @invariant()
    def viewers_never_queue_for_the_wheel(self) -> None:
        if self.host is None:
            return
        viewer_ids = {self.ids[n] for n in CLIENTS if n[0] == "v"}
        assert not viewer_ids & set(self.host.server.requests)
        assert self.host.server.driver not in viewer_ids


DispatchWithRoles.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestDispatchWithRoles = DispatchWithRoles.TestCase
