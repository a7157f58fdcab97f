"""Signed tokens for tracking pixels, click redirects and unsubscribe links.

Tokens are itsdangerous signatures over small payloads (message id, link index), salted
per purpose so a pixel token can never be replayed as an unsubscribe token. They do not
expire: an unsubscribe link in a two-year-old email must still work.

New tokens are an itsdangerous :class:`~itsdangerous.Signer` signature (salt
``decant-<purpose>-v2``) over the compact JSON payload in URL-safe base64, without the
zlib pass :class:`~itsdangerous.URLSafeSerializer` makes on every payload (a campaign
signs several links per recipient). Tokens of the older serializer format (salt
``decant-<purpose>``) are still accepted.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode, want_bytes

PURPOSES = ("open", "click", "unsubscribe", "preferences")


def _check(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")


def _serializer(purpose: str) -> URLSafeSerializer:
    _check(purpose)
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    # The older token format, still accepted when unsigning.
    return URLSafeSerializer(secret_key, salt=f"decant-{purpose}")


def _signer(purpose: str) -> _KeyedSigner:
    _check(purpose)
    return _cached_signer(current_app.config["SECRET_KEY"], purpose)


class _KeyedSigner(Signer):
    """A :class:`Signer` that derives its signing key once, not on every signature."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        if secret_key is not None:
            return super().derive_key(secret_key)
        derived = self.__dict__.get("_derived")
        if derived is None:
            derived = self.__dict__["_derived"] = super().derive_key()
        return derived

    def get_signature(self, value: str | bytes) -> bytes:
        return base64_encode(self.tokens().mac(want_bytes(value)))

    def tokens(self) -> _Tokens:
        made = self.__dict__.get("_tokens")
        if made is None:
            made = self.__dict__["_tokens"] = _Tokens(
                self.derive_key(), self.digest_method().name, want_bytes(self.sep)
            )
        return made


class _Tokens:
    """Tokens exactly as :meth:`Signer.sign` writes them over URL-safe base64 payloads,
    from an HMAC keyed once and copied per token (the documented way to MAC many
    messages with one key; keying costs as much as the MAC of a short payload) and no
    conversions: a campaign signs five per recipient."""

    __slots__ = ("keyed", "sep")

    def __init__(self, key: bytes, digest: str, sep: bytes) -> None:
        self.keyed = hmac.new(key, digestmod=digest)
        self.sep = sep

    def mac(self, value: bytes) -> bytes:
        mac = self.keyed.copy()
        mac.update(value)
        return mac.digest()

    def sign(self, data: bytes) -> str:
        """The token for payload bytes (compact JSON, or an integer's digits)."""
        encoded = _b64(data)
        mac = self.keyed.copy()
        mac.update(encoded)
        return (encoded + self.sep + _b64(mac.digest())).decode()

    def sign_int(self, value: int) -> str:
        return self.sign(str(int(value)).encode())


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding (itsdangerous' ``base64_encode``)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


@lru_cache(maxsize=32)
def _cached_signer(secret_key: str, purpose: str) -> _KeyedSigner:
    return _KeyedSigner(secret_key, salt=f"decant-{purpose}-v2")


def sign(purpose: str, payload: Any) -> str:
    return _sign_with(_signer(purpose).tokens(), payload)


def id_signer_for(purpose: str) -> Callable[[int], str]:
    """:func:`sign` of a message id for one purpose, for many messages."""
    return _signer(purpose).tokens().sign_int


def json_signer_for(purpose: str) -> Callable[[bytes], str]:
    """Sign a payload already written as compact JSON bytes (``json.dumps(payload,
    separators=(",", ":")).encode()``): what :func:`sign` gives for that payload, without
    encoding it again (a campaign writes the same link into every recipient's payload)."""
    return _signer(purpose).tokens().sign


def _sign_with(tokens: _Tokens, payload: Any) -> str:
    if isinstance(payload, int) and not isinstance(payload, bool):
        return tokens.sign_int(payload)
    return tokens.sign(json.dumps(payload, separators=(",", ":")).encode())


def unsign(purpose: str, token: str) -> Any | None:
    """The payload, or None for a tampered, truncated or foreign token."""
    try:
        encoded = _signer(purpose).unsign(token)
    except BadSignature:
        pass
    else:
        try:
            data = base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4))
            return json.loads(data)
        except ValueError:
            return None
    try:
        return _serializer(purpose).loads(token)
    except BadSignature:
        return None


def public_url(path: str) -> str:
    """An absolute URL on PUBLIC_BASE_URL (what recipients and providers reach)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
