"""Requests the server makes on a user's behalf go only to the public internet.

A manager can ask Decant to fetch a URL (a pre-flight link check, an outbound webhook
endpoint). Without a guard that is a way to probe the private network the server sits
in (loopback, RFC 1918, link-local cloud metadata at 169.254.169.254). Every address a
host name resolves to is checked (by :mod:`app.outbound.addresses`, which outbound
webhooks use too), at the moment of the request. ``allow_private`` is for tests and for sites
whose own CRM lives on the private network, set by an admin in configuration.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.outbound import addresses


class PrivateAddress(ValueError):
    """The URL's host is (or resolves to) an address that is not on the public internet."""


def non_public_reason(url: str) -> str | None:
    """Why ``url`` may not be fetched, or None. Unresolvable names are refused too."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "only http and https addresses are fetched"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the port is not a number"
    try:
        found = addresses.resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        return f"the host {parts.hostname} does not resolve"
    for address in found:
        if not addresses.is_public(address):
            return f"the host {parts.hostname} is on a private or reserved network ({address})"
    return None


def require_public(url: str, *, allow_private: bool = False) -> None:
    """Raise :class:`PrivateAddress` unless ``url`` may be fetched."""
    if allow_private:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            return
    reason = non_public_reason(url)
    if reason:
        raise PrivateAddress(reason)
