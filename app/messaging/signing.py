"""Signed tokens for tracking pixels, click redirects and unsubscribe links.

Tokens are itsdangerous signatures over small payloads (message id, link index), salted
per purpose so a pixel token can never be replayed as an unsubscribe token. They do not
expire: an unsubscribe link in a two-year-old email must still work.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

PURPOSES = ("open", "click", "unsubscribe", "preferences")


def _serializer(purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    # Built once per key and purpose: a campaign signs several links per recipient.
    return URLSafeSerializer(secret_key, salt=f"decant-{purpose}")


def sign(purpose: str, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def unsign(purpose: str, token: str) -> Any | None:
    """The payload, or None for a tampered, truncated or foreign token."""
    try:
        return _serializer(purpose).loads(token)
    except BadSignature:
        return None


def public_url(path: str) -> str:
    """An absolute URL on PUBLIC_BASE_URL (what recipients and providers reach)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
