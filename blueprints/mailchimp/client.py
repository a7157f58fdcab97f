"""The team's Mailchimp client, built from the stored connection, and bounded retries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select

from app.crypto import decrypt
from app.extensions import db
from blueprints.mailchimp.models import MailchimpConnection
from providers.errors import TransientError
from providers.mailchimp import MailchimpClient

T = TypeVar("T")

DEFAULTS: dict[str, Any] = {
    "MAILCHIMP_BASE_URL": None,
    "MAILCHIMP_TIMEOUT": 30,
    "MAILCHIMP_RETRY_ATTEMPTS": 5,
    "MAILCHIMP_RETRY_BASE_SECONDS": 1.0,
    "MAILCHIMP_RETRY_MAX_SECONDS": 60.0,
    "MAILCHIMP_ENGAGED_TAG": "engaged",
    "MAILCHIMP_SYNC_TICK_SECONDS": 300,
    "MAILCHIMP_SYNC_STALE_SECONDS": 900,  # a run silent this long lost its worker
    "MAILCHIMP_REPORT_DAYS": 30,
    "MAILCHIMP_OAUTH_AUTHORIZE_URL": "https://login.mailchimp.com/oauth2/authorize",
    "MAILCHIMP_OAUTH_TOKEN_URL": "https://login.mailchimp.com/oauth2/token",
    "MAILCHIMP_OAUTH_METADATA_URL": "https://login.mailchimp.com/oauth2/metadata",
}


class NotConnected(LookupError):
    """No Mailchimp account is connected."""


def get_connection() -> MailchimpConnection | None:
    return db.session.scalar(select(MailchimpConnection).order_by(MailchimpConnection.id))


def make_client(auth_type: str, secret: str, data_center: str | None = None) -> MailchimpClient:
    """A client for an API key or an OAuth token, at MAILCHIMP_BASE_URL when set."""
    config = current_app.config
    base_url = config.get("MAILCHIMP_BASE_URL") or None
    timeout = float(config.get("MAILCHIMP_TIMEOUT") or 30)
    if auth_type == "oauth":
        return MailchimpClient(
            access_token=secret, server=data_center, base_url=base_url, timeout=timeout
        )
    return MailchimpClient(api_key=secret, base_url=base_url, timeout=timeout)


def client_for(conn: MailchimpConnection) -> MailchimpClient:
    """A client for the stored credential (decrypted only in memory)."""
    return make_client(conn.auth_type, decrypt(conn.secret_encrypted), conn.data_center)


def get_client() -> MailchimpClient:
    conn = get_connection()
    if conn is None:
        raise NotConnected("Mailchimp is not connected")
    return client_for(conn)


def with_retries(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``, retrying TransientError (429, 5xx, timeouts) with bounded backoff.

    Honours Retry-After when the provider sends one (capped at MAILCHIMP_RETRY_MAX_SECONDS);
    re-raises the last TransientError after MAILCHIMP_RETRY_ATTEMPTS tries.
    """
    config = current_app.config
    attempts = max(1, int(config.get("MAILCHIMP_RETRY_ATTEMPTS", 5)))
    base = float(config.get("MAILCHIMP_RETRY_BASE_SECONDS", 1.0))
    cap = float(config.get("MAILCHIMP_RETRY_MAX_SECONDS", 60.0))
    for attempt in range(1, attempts + 1):
        try:
            return fn(*args, **kwargs)
        except TransientError as exc:
            if attempt == attempts:
                raise
            delay = exc.retry_after if exc.retry_after is not None else base * 2 ** (attempt - 1)
            delay = min(cap, delay) * (1 if exc.retry_after is not None else random.uniform(0.5, 1))
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
