"""Slow password hashes (scrypt by default) with a constant-time miss path."""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

_DUMMY: dict[str, str] = {}


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so unknown emails can't be told apart.
        method = current_app.config["PASSWORD_HASH_METHOD"]
        dummy = _DUMMY.setdefault(method, generate_password_hash("x", method=method))
        check_password_hash(dummy, password)
        return False
    return check_password_hash(password_hash, password)
