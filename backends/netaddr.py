"""Which addresses only this machine can reach (shares, joins and Delve connections to
anything else need TLS or an explicit --insecure)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost (brackets around an IPv6 address are allowed)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(address: str) -> str:
    """The host part of HOST:PORT or [V6]:PORT."""
    return address.rpartition(":")[0].strip("[]")
