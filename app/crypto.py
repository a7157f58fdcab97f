"""Encryption of secrets at rest (provider keys, OAuth tokens).

``ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys, newest first: new values are
encrypted with the first, any of them decrypts (MultiFernet), so keys can be rotated. When
it is unset a key is derived from SECRET_KEY with HKDF, so a default install still never
stores a provider secret in clear.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"decant-secrets-at-rest", info=b"v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def fernet_for(config: Mapping[str, Any]) -> MultiFernet:
    raw = config.get("ENCRYPTION_KEYS")
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()] if raw else []
    if not keys:
        keys = [_derive_key(config["SECRET_KEY"])]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str) -> str:
    return fernet_for(current_app.config).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet_for(current_app.config).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # wrong key or tampered value
        raise ValueError("stored secret cannot be decrypted with the configured keys") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()
