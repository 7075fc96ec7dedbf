"""Issue 11 item 4: only driver-token clients may ask for or be given the wheel.

A viewer-token client used to `request_drive`, be granted the wheel (by the host's
Ctrl+G or a client driver), then halt and continue the target. Real websockets on
loopback; a real Session over fake backends (tests/remote/fakes.py)."""

from __future__ import annotations

import pytest
from gotui.backends.model import GotuiError
from gotui.backends.remote.server import HOST

from tests.remote.conftest import make_host, raw_connect

from .conftest import connect_as


async def test_a_viewer_token_client_can_never_take_the_wheel() -> None:
    h = await make_host(host_drives=False)
    d = await raw_connect(h.url, h.server.driver_token)
    v = await raw_connect(h.url, h.server.viewer_token)
    try:
        d_hello = await d.of_type("hello")
        v_hello = await v.of_type("hello")
        await v.send({"type": "request_drive"})
        refusal = await v.of_type("error")
        assert refusal["code"] == "forbidden" and "viewer token" in refusal["message"]
        assert h.server.requests == []
        # the driver tries to hand it over anyway: refused, nothing changes
        await d.send({"type": "grant_drive", "to": v_hello["you"]})
        refusal = await d.of_type("error")
        assert "viewer token" in refusal["message"]
        assert h.server.driver == d_hello["you"]
        with pytest.raises(GotuiError, match="viewer token"):
            h.server.grant_drive(v_hello["you"])
        assert h.server.driver == d_hello["you"]
        # the driver leaves: the wheel stays free for a viewer token
        await d.close()
        await v.send({"type": "request_drive"})
        await v.of_type("error", code="forbidden")
        assert h.server.driver is None
        await v.send({"type": "command", "name": "halt", "args": {}, "id": 1})
        assert (await v.next(lambda m: m.get("id") == 1))["code"] == "forbidden"
        assert "halt" not in h.stop.calls
        # each client is told which token it holds
        assert (d_hello["role"], d_hello.get("token")) == ("driver", "driver")
        assert (v_hello["role"], v_hello.get("token")) == ("viewer", "viewer")
    finally:
        await v.close()
        await h.server.close()
        await h.session.close()


async def test_host_cannot_hand_the_wheel_to_a_viewer_token() -> None:
    h = await make_host(host_drives=True)
    v = await raw_connect(h.url, h.server.viewer_token)
    try:
        v_hello = await v.of_type("hello")
        await v.send({"type": "request_drive"})
        await v.of_type("error", code="forbidden")
        with pytest.raises(GotuiError, match="viewer token"):
            h.server.grant_drive(v_hello["you"])  # what ctrl+g at the host calls
        assert h.server.driver == HOST
    finally:
        await v.close()
        await h.server.close()
        await h.session.close()


async def test_presence_shows_role_token_kind_and_self_declared_names() -> None:
    h = await make_host(host_drives=False)
    d = await connect_as(h.url, h.server.driver_token, headers={"X-Gotui-User": "host"})
    v = await connect_as(h.url, h.server.viewer_token,
                         headers={"X-Gotui-User": "root@prod[admin]"})
    try:
        await d.of_type("hello")
        await v.of_type("hello")
        presence = await v.next(lambda m: m["type"] == "presence" and len(m["clients"]) == 2)
        by_token = {c["token"]: c for c in presence["clients"]}
        assert by_token["driver"]["role"] == "driver" and by_token["viewer"]["role"] == "viewer"
        assert all(c["name_source"] == "self-declared" for c in presence["clients"])
        assert by_token["viewer"]["name"] == "root@prodadmin"  # no markup characters
    finally:
        await d.close()
        await v.close()
        await h.server.close()
        await h.session.close()
