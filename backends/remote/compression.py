"""permessage-deflate settings for both ends of a shared session.

A 100k-goroutine snapshot is ~60 MB of JSON that compresses ~100x (same functions,
files and statuses over and over): over an SSH tunnel that is seconds instead of
minutes. Level 1 and a 4 KB window keep the CPU and the memory per viewer small
(measured in tests/remote/test_load.py)."""

from __future__ import annotations

from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

WINDOW_BITS = 12
SETTINGS = {"level": 1, "memLevel": 5}


def server_deflate() -> ServerPerMessageDeflateFactory:
    return ServerPerMessageDeflateFactory(server_max_window_bits=WINDOW_BITS,
                                          client_max_window_bits=WINDOW_BITS,
                                          compress_settings=dict(SETTINGS))


def client_deflate() -> ClientPerMessageDeflateFactory:
    return ClientPerMessageDeflateFactory(server_max_window_bits=WINDOW_BITS,
                                          client_max_window_bits=WINDOW_BITS,
                                          compress_settings=dict(SETTINGS))
