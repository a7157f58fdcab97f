"""Webhook endpoints must be on the public internet, unless a setting allows otherwise.

An admin-registered URL is a request Decant makes on the admin's behalf: pointed at
``127.0.0.1``, ``10.x``, ``169.254.169.254`` (cloud metadata) or a name resolving there, it
would reach services that trust the server's network (server-side request forgery). So
an endpoint's host must resolve only to global addresses when it is registered, and the
address each delivery actually connects to is checked again when the connection is made
(a name may resolve elsewhere by then: DNS rebinding). ``OUTBOUND_WEBHOOKS_ALLOW_PRIVATE``
(true in development and testing, false in production) lifts both checks, for a host CRM
on the same private network.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from app.errors import Invalid

SETTING = "OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"


def private_allowed() -> bool:
    return bool(current_app.config.get(SETTING))


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable unicast (IPv4 inside IPv6 unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address is itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_public_url(url: str) -> None:
    """Refuse (Invalid naming ``url``) a URL whose host is or resolves to a loopback,
    private, link-local, metadata or otherwise non-global address."""
    if private_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise Invalid("Invalid URL", {"url": f"the host {host!r} does not resolve"}) from None
    refused = [address for address in addresses if not is_public(address)]
    if refused or not addresses:
        raise Invalid(
            "Invalid URL",
            {
                "url": f"the host {host!r} is a private, loopback or link-local address "
                f"({', '.join(refused)}); endpoints must be on the public internet"
            },
        )


class PrivateAddressRefused(NewConnectionError):
    """A delivery's connection reached a non-global address."""


def _checked(sock: socket.socket, conn: Any) -> socket.socket:
    peer = sock.getpeername()[0]
    if not is_public(peer):
        sock.close()
        raise PrivateAddressRefused(
            conn, f"refused: {conn.host} connected to the private address {peer}"
        )
    return sock


class _PublicHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn(), self)


class _PublicHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn(), self)


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """A requests adapter whose connections are refused unless the address actually
    connected to is global: the check is on the socket, after resolution, so a name
    that resolves differently at delivery time cannot slip through."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }
