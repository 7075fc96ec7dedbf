"""Who drives a shared session: the driver, who asks for the wheel, and the rules.

One driver at a time: "host" (the person at the host's TUI), a client, or nobody (a
headless share before a driver-token client joins, or after the driver left). Only
clients that joined with the driver token can ask for the wheel, take a free one or be
handed it; a viewer-token client never drives and never queues for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gotui.backends.model import GotuiError

HOST = "host"  # the driver id of the person at the host's own TUI


class Member(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def privileged(self) -> bool:
        """Joined with the driver token: may ask for, and be given, the wheel."""
        ...


class Refused(GotuiError):
    """Not allowed for whoever asked (the protocol's `forbidden`)."""


class Wheel:
    def __init__(self, members: Mapping[str, Member], *, host_drives: bool) -> None:
        self.members = members  # the connected clients by id (the server's, kept current)
        self.host_drives = host_drives
        self.driver: str | None = HOST if host_drives else None
        self.requests: list[str] = []  # client ids asking to drive, oldest first

    def role(self, client_id: str) -> str:
        return "driver" if self.driver == client_id else "viewer"

    def joined(self, member: Member) -> None:
        """A new client: one with the driver token takes a free wheel."""
        if member.privileged and self.driver is None:
            self.driver = member.id

    def left(self, client_id: str) -> None:
        if client_id in self.requests:
            self.requests.remove(client_id)
        if self.driver == client_id:
            self.driver = HOST if self.host_drives else None

    def grant(self, client_id: str) -> None:
        """Hand the wheel to `client_id` (HOST takes it back): only to a client that
        joined with the driver token."""
        member = self.members.get(client_id)
        if client_id != HOST and member is None:
            raise GotuiError(f"no connected client {client_id!r}")
        if client_id == HOST and not self.host_drives:
            raise GotuiError("this session has no host at the keyboard (headless)")
        if member is not None and not member.privileged:
            raise GotuiError(f"{member.name} ({client_id}) joined with the viewer token: "
                             "only driver-token clients can drive")
        self.driver = client_id
        if client_id in self.requests:
            self.requests.remove(client_id)

    def hand_over(self, by: str, to: str) -> None:
        """A client hands the wheel on: only the driver can."""
        if self.driver != by:
            raise Refused("only the driver can hand over the wheel")
        self.grant(to)

    def request(self, member: Member) -> bool:
        """A client asks to drive: it takes a free wheel, else it is queued. True when
        it was newly queued (the driver is to be told)."""
        if not member.privileged:
            raise Refused("you joined with the viewer token: only driver-token clients "
                          "can drive")
        if self.driver == member.id:
            return False
        if self.driver is None:
            self.driver = member.id
            return False
        if member.id in self.requests:
            return False
        self.requests.append(member.id)
        return True
