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
        mac = self._keyed().copy()
        mac.update(want_bytes(value))
        return base64_encode(mac.digest())

    def sign_encoded(self, encoded: bytes) -> str:
        """:meth:`sign` for ASCII bytes, as text: the same token, minus the conversions."""
        mac = self._keyed().copy()
        mac.update(encoded)
        signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
        return (encoded + self._separator() + signature).decode("ascii")

    def _keyed(self) -> hmac.HMAC:
        # The keyed HMAC state is built once and copied per signature (same HMAC).
        keyed = self.__dict__.get("_keyed_hmac")
        if keyed is None:
            keyed = self.__dict__["_keyed_hmac"] = hmac.new(
                self.derive_key(), digestmod=self.digest_method
            )
        return keyed

    def _separator(self) -> bytes:
        return want_bytes(self.sep)


@lru_cache(maxsize=32)
def _cached_signer(secret_key: str, purpose: str) -> _KeyedSigner:
    return _KeyedSigner(secret_key, salt=f"decant-{purpose}-v2")


def sign(purpose: str, payload: Any) -> str:
    return _sign_with(_signer(purpose), payload)


def signer_for(purpose: str) -> Callable[[Any], str]:
    """:func:`sign` for one purpose with the key looked up once (for many messages)."""
    signer = _signer(purpose)
    return lambda payload: _sign_with(signer, payload)


def json_signer_for(purpose: str) -> Callable[[str], str]:
    """Sign a payload already written as compact JSON (``json.dumps(payload,
    separators=(",", ":"))``): what :func:`sign` gives for that payload, without encoding
    it again (a campaign writes the same link into every recipient's payload)."""
    signer = _signer(purpose)
    return lambda data: _sign_data(signer, data.encode())


def _sign_with(signer: _KeyedSigner, payload: Any) -> str:
    if isinstance(payload, int) and not isinstance(payload, bool):
        data = str(payload).encode()
    else:
        data = json.dumps(payload, separators=(",", ":")).encode()
    return _sign_data(signer, data)


def _sign_data(signer: _KeyedSigner, data: bytes) -> str:
    return signer.sign_encoded(base64.urlsafe_b64encode(data).rstrip(b"="))


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
