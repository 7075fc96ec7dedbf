"""Paired sessions over websockets: `serve_session` on the host, `join` on the other side."""

from gotui.backends.remote.client import RemoteSession, join
from gotui.backends.remote.server import ShareServer, serve_session

__all__ = ["RemoteSession", "ShareServer", "join", "serve_session"]
