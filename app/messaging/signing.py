"""Signed tokens for tracking pixels, click redirects and unsubscribe links.

Tokens are itsdangerous signatures over small payloads (message id, link index), salted
per purpose so a pixel token can never be replayed as an unsubscribe token. They do not
expire: an unsubscribe link in a two-year-old email must still work.

New tokens are a plain itsdangerous :class:`~itsdangerous.Signer` signature (HMAC-SHA1,
salt ``decant-<purpose>-v2``) over the compact JSON payload in URL-safe base64. Every
format issued before is still accepted: keyed-BLAKE2b signatures over the same payload
(salt ``decant-<purpose>-v3``, issued in December 2026) and the
:class:`~itsdangerous.URLSafeSerializer`'s (salt ``decant-<purpose>``, the first format).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.signer import SigningAlgorithm

PURPOSES = ("open", "click", "unsubscribe", "preferences")


class _Blake2bMac(SigningAlgorithm):
    """Keyed BLAKE2b with 20-byte tags: the algorithm of the ``-v3`` tokens (only read)."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hashlib.blake2b(value, key=key, digest_size=20).digest()


class _HmacSha1(SigningAlgorithm):
    """itsdangerous's default HMAC-SHA1, computed by :func:`hmac.digest` (OpenSSL in one
    call, about half the time of building an :mod:`hmac` object per token): the same
    signatures."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


class _KeyOnceSigner(Signer):
    """A :class:`Signer` that derives its key once, not for every token (a campaign signs
    three per recipient); the tokens are the same."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is not None:
            return super().derive_key(secret_key)
        if "_key" not in self.__dict__:
            self.__dict__["_key"] = super().derive_key()
        return self.__dict__["_key"]  # type: ignore[no-any-return]


@lru_cache(maxsize=32)
def _signers(secret_key: str, purpose: str) -> tuple[Signer, Signer, URLSafeSerializer]:
    """The signer new tokens use, then the older formats still accepted."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return (
        _KeyOnceSigner(secret_key, salt=f"decant-{purpose}-v2", algorithm=_HmacSha1()),
        Signer(
            secret_key,
            salt=f"decant-{purpose}-v3",
            digest_method=hashlib.sha256,
            algorithm=_Blake2bMac(),
        ),
        URLSafeSerializer(secret_key, salt=f"decant-{purpose}"),
    )


#: The payload's compact JSON (``json.dumps`` with these separators builds an encoder per call).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def sign(purpose: str, payload: Any, secret_key: str | None = None) -> str:
    """A token for ``payload``; ``secret_key`` saves reading the setting when the caller
    signs many (a campaign batch signs two or more per message)."""
    signer = _signers(secret_key or current_app.config["SECRET_KEY"], purpose)[0]
    data = _COMPACT_JSON.encode(payload).encode()
    return str(signer.sign(base64.urlsafe_b64encode(data).rstrip(b"=")).decode())


def unsign(purpose: str, token: str) -> Any | None:
    """The payload, or None for a tampered, truncated or foreign token."""
    current, blake2b, serializer = _signers(current_app.config["SECRET_KEY"], purpose)
    for signer in (current, blake2b):
        try:
            encoded = signer.unsign(token)
        except BadSignature:
            continue
        try:
            return json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
        except ValueError:
            return None
    try:
        return serializer.loads(token)
    except BadSignature:
        return None


def public_url(path: str) -> str:
    """An absolute URL on PUBLIC_BASE_URL (what recipients and providers reach)."""
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + path
