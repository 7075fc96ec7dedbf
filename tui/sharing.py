"""The TUI's side of a shared session: who is there, follow the driver, hand-off.

The same TUI runs at the host (a local Session, maybe served by a ShareServer) and at a
joiner (a RemoteSession). Textual-free: the app calls these and shows what they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from gotui.backends.target import TargetSession

# The remote modules cost ~0.1 s of imports (websockets) that a session nobody shares
# does not need before its first paint: they are imported when sharing is used (here
# only for the types).
if TYPE_CHECKING:
    from gotui.backends.remote.client import RemoteSession
    from gotui.backends.remote.server import ShareServer


def _host() -> str:
    from gotui.backends.remote.server import HOST

    return HOST

# app pane name <-> protocol pane name (protocol.PANES); app panes not listed travel as ""
TO_WIRE = {"goroutines": "goroutines", "stack": "stack", "variables": "locals",
           "source": "source", "breakpoints": "breakpoints", "channels": "channels",
           "eval": "eval"}
FROM_WIRE = {wire: app for app, wire in TO_WIRE.items()}


def declared(client: dict[str, Any]) -> str:
    """A client's name as it declared it (X-Gotui-User, never verified): in quotes."""
    return f'"{client.get("name") or "anonymous"}"'


class ShareControls:
    def __init__(self, session: TargetSession) -> None:
        self.session = session
        self.server: ShareServer | None = None  # set when this TUI shares its own session
        self._presence: dict[str, Any] = {}  # the host's, from the server's notices
        self.following = False
        self._sent: tuple[int, str] | None = None

    @property
    def presence(self) -> dict[str, Any]:
        """The latest presence, from whoever keeps it (it may have changed before the
        TUI subscribed): a joiner's session, the host's server."""
        remote = self.remote
        if remote is not None:
            return remote.presence
        return self.server.presence() if self.server is not None else self._presence

    @presence.setter
    def presence(self, value: dict[str, Any]) -> None:
        self._presence = value

    @property
    def remote(self) -> RemoteSession | None:
        """The joiner's session (presence, follow, hand-off), None at a host."""
        if self.session.capabilities.remote:
            return cast("RemoteSession", self.session)
        return None

    @property
    def shared(self) -> bool:
        return self.remote is not None or self.server is not None

    @property
    def me(self) -> str:
        remote = self.remote
        return remote.client_id if remote is not None else _host()

    @property
    def driving(self) -> bool:
        return self.presence.get("driver", _host() if self.remote is None else None) == self.me

    def name(self, client_id: str | None) -> str:
        if client_id is None:
            return "nobody"
        if client_id == self.me:
            return "you"
        if client_id == _host():
            return "host"
        for c in self.presence.get("clients", ()):
            if c.get("id") == client_id:
                return f"{declared(c)} ({client_id})"
        return client_id

    def line(self) -> str:
        """The presence line: '' when the session is not shared."""
        if not self.shared or not self.presence:
            return ""
        clients = self.presence.get("clients", [])
        parts = ["shared" if self.remote is not None else self._where()]
        if self.remote is not None:
            role = "driver" if self.driving else "viewer"
            parts.append(f"you: {role}{' (following)' if self.following else ''}")
        parts.append(f"driver: {self.name(self.presence.get('driver'))}")
        parts.append(f"{len(clients)} joined")
        names = ", ".join(f"{declared(c)} ({c.get('token', '?')} token)" for c in clients[:4])
        if names:
            parts[-1] += f" [{names}{', …' if len(clients) > 4 else ''}]"
        requests = self.presence.get("requests", [])
        if requests:
            who = self.name(requests[0])
            hint = " (ctrl+g hands over)" if self.driving else ""
            parts.append(f"{who} asks to drive{hint}")
        return " · ".join(parts)

    def _where(self) -> str:
        url = self.server.info().get("url", "") if self.server is not None else ""
        return f"sharing on {url} (? shows the tokens)" if url else "sharing"

    def join_text(self) -> str:
        """At the host: the commands that join, with the tokens ('' when not sharing).
        Never a token on a command line: it would land in `ps` and shell history."""
        if self.server is None:
            return ""
        info = self.server.info()  # short lines: a token must not wrap at 80 columns
        return (f"gotui join {info['url']} --token-file FILE\n"
                "  (FILE holds the token, mode 600; or `read -rs GOTUI_TOKEN; "
                "export GOTUI_TOKEN` and leave out --token-file)\n"
                f"viewer token: {info['viewer_token']}\n"
                f"driver token: {info['driver_token']} (may be given the wheel)\n"
                "names in quotes are self-declared by each joiner; K: clients, kick, "
                "rotate tokens")

    def new_requests(self, old: dict[str, Any]) -> list[str]:
        """Client ids that asked to drive since `old` (the driver is prompted for them)."""
        before = set(old.get("requests", ()))
        return [r for r in self.presence.get("requests", ()) if r not in before]

    # ------------------------------------------------------------ actions (one line back)
    async def toggle_follow(self) -> str:
        remote = self.remote
        if remote is None:
            return "follow: only a joiner follows the driver"
        self.following = not self.following
        await remote.follow(self.following)
        return "following the driver" if self.following else "not following the driver"

    @property
    def may_drive(self) -> bool:
        """A joiner that holds the driver token (only those can be given the wheel)."""
        remote = self.remote
        return remote is not None and remote.token_kind == "driver"

    async def request_drive(self) -> str:
        remote = self.remote
        if remote is None:
            return "you are at the host: ctrl+g takes the wheel back" if self.server else \
                "this session is not shared"
        if self.driving:
            return "you drive already"
        if not self.may_drive:
            return "you joined with the viewer token: only driver-token clients can drive"
        await remote.request_drive()
        return "asked the driver for the wheel"

    async def grant(self) -> str:
        """The driver hands the wheel to the first who asked; the host takes it back if
        nobody asked."""
        requests = list(self.presence.get("requests", ()))
        if self.server is not None:
            if requests:
                self.server.grant_drive(requests[0])
                return f"handed the wheel to {self.name(requests[0])}"
            if self.server.driver != _host():
                self.server.take_drive()
                return "took the wheel back"
            return "nobody asks to drive"
        remote = self.remote
        if remote is None:
            return "this session is not shared"
        if not self.driving:
            return "only the driver hands over the wheel"
        if not requests:
            return "nobody asks to drive"
        await remote.grant_drive(requests[0])
        return f"handed the wheel to {self.name(requests[0])}"

    # ------------------------------------------------------------ host: who is connected
    def clients(self) -> list[dict[str, Any]]:
        """At the host: every connected client (id, name, role, token, address)."""
        return self.server.clients() if self.server is not None else []

    def kick(self, client_id: str) -> str:
        if self.server is None:
            return "this session is not shared from here"
        return f"removed {self.server.kick(client_id)!r} ({client_id})"

    def rotate_tokens(self, kick: bool) -> str:
        if self.server is None:
            return "this session is not shared from here"
        self.server.rotate_tokens(kick=kick)
        return "new tokens (? shows them)" + ("; everyone was disconnected" if kick else "")

    async def publish_selection(self, goroutine: int, pane: str) -> None:
        """The driver's selected goroutine and pane, for followers (sent on change)."""
        sel = (goroutine, TO_WIRE.get(pane, ""))
        if sel == self._sent or not self.shared:
            return
        remote = self.remote
        if remote is not None:
            if not self.driving:
                return
            await remote.select(*sel)
        elif self.server is not None:
            self.server.host_select(*sel)
        self._sent = sel
