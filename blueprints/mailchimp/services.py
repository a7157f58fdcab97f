"""Connection (API key or OAuth), status, audiences and sync definitions."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select

from app.crypto import encrypt
from app.errors import Conflict, Invalid, ProviderFailed, invalid
from app.extensions import db
from app.messaging import audiences
from app.models_base import utcnow
from blueprints.mailchimp.client import get_client, get_connection, make_client, with_retries
from blueprints.mailchimp.models import MailchimpConnection, MailchimpSync
from providers import mailchimp as mc
from providers.errors import AuthenticationError, ProviderError

if TYPE_CHECKING:
    from app.auth.models import User

MIN_FREQUENCY_SECONDS = 300


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


# --------------------------------------------------------------------------- connection


def _store(
    auth_type: str, secret: str, dc: str, account: mc.Account | None, user: User
) -> MailchimpConnection:
    """Replace the one connection; the secret is encrypted, never stored in clear."""
    old = get_connection()
    webhook_secret = old.webhook_secret if old is not None else secrets.token_urlsafe(32)
    if old is not None:
        db.session.delete(old)
        db.session.flush()
    conn = MailchimpConnection(
        auth_type=auth_type,
        secret_encrypted=encrypt(secret),
        data_center=dc,
        account_id=account.id if account else None,
        account_name=account.name if account else None,
        webhook_secret=webhook_secret,
        connected_at=utcnow(),
        connected_by_id=getattr(user, "id", None),
    )
    db.session.add(conn)
    db.session.commit()
    return conn


def connect_api_key(api_key: str, user: User) -> MailchimpConnection:
    """Check the key's format, ping the account, then store it encrypted."""
    try:
        dc = mc.parse_api_key(api_key)
    except mc.InvalidApiKeyError as exc:
        raise invalid({"apiKey": str(exc)}) from exc
    account = _check_account(make_client("api_key", api_key.strip()))
    return _store("api_key", api_key.strip(), dc, account, user)


def connect_oauth(code: str, redirect_uri: str, user: User) -> MailchimpConnection:
    """Exchange an authorization code, read the data centre, store the token encrypted."""
    cfg = current_app.config
    try:
        token = mc.exchange_code(
            cfg.get("MAILCHIMP_CLIENT_ID") or "",
            cfg.get("MAILCHIMP_CLIENT_SECRET") or "",
            redirect_uri,
            code,
            token_url=cfg["MAILCHIMP_OAUTH_TOKEN_URL"],
        )
        meta = mc.fetch_metadata(token, metadata_url=cfg["MAILCHIMP_OAUTH_METADATA_URL"])
    except AuthenticationError as exc:
        raise Invalid(f"Mailchimp refused the login: {exc}", code="invalid_credentials") from exc
    except ProviderError as exc:
        raise ProviderFailed(f"Mailchimp OAuth failed: {exc}") from exc
    account = _check_account(make_client("oauth", token, meta["dc"]))
    return _store("oauth", token, meta["dc"], account, user)


def _check_account(client: mc.MailchimpClient) -> mc.Account:
    try:
        client.ping()
        return client.account()
    except AuthenticationError as exc:
        raise Invalid(
            "Mailchimp refused these credentials (401). Check the API key.",
            {"apiKey": "refused by Mailchimp"},
            code="invalid_credentials",
        ) from exc
    except ProviderError as exc:
        raise ProviderFailed(f"Mailchimp could not be reached: {exc}") from exc


def disconnect() -> bool:
    """Erase the stored credential (the row goes). Syncs are kept for a reconnect."""
    conn = get_connection()
    if conn is None:
        return False
    db.session.delete(conn)
    db.session.commit()
    return True


def status_json() -> dict[str, Any]:
    conn = get_connection()
    if conn is None:
        return {"connected": False}
    errors = list(
        db.session.execute(
            select(MailchimpSync.public_id, MailchimpSync.last_error).where(
                MailchimpSync.last_error.is_not(None)
            )
        )
    )
    return {
        "connected": True,
        "authType": conn.auth_type,
        "accountName": conn.account_name,
        "accountId": conn.account_id,
        "dataCenter": conn.data_center,
        "connectedAt": _iso(conn.connected_at),
        "lastSyncAt": _iso(conn.last_sync_at),
        "lastError": conn.last_error,
        "errors": [{"syncId": sid, "message": msg} for sid, msg in errors]
        + ([{"syncId": None, "message": conn.last_error}] if conn.last_error else []),
    }


def webhook_url(conn: MailchimpConnection) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}/api/sales/marketing/webhooks/mailchimp/{conn.webhook_secret}"


# --------------------------------------------------------------------------- audiences


def require_client() -> mc.MailchimpClient:
    try:
        return get_client()
    except LookupError as exc:
        raise Conflict("Connect a Mailchimp account first", code="not_connected") from exc


def list_audiences() -> list[mc.Audience]:
    client = require_client()
    try:
        return with_retries(client.list_audiences)
    except AuthenticationError as exc:
        raise Invalid(str(exc), code="invalid_credentials") from exc
    except ProviderError as exc:
        raise ProviderFailed(str(exc)) from exc


def audience_json(a: mc.Audience) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "memberCount": a.member_count}


# --------------------------------------------------------------------------- syncs


def get_sync(public_id: str) -> MailchimpSync | None:
    return db.session.scalar(select(MailchimpSync).where(MailchimpSync.public_id == public_id))


def create_or_update_sync(
    user: User, list_id: str, audience_id: str, frequency_seconds: int | None
) -> MailchimpSync:
    """One sync per (list, audience); checks both exist before saving."""
    audiences.resolve("list", list_id, user)  # 422 naming listId when unknown or hidden
    if frequency_seconds is not None and frequency_seconds < MIN_FREQUENCY_SECONDS:
        raise invalid({"frequencySeconds": f"at least {MIN_FREQUENCY_SECONDS} seconds, or null"})
    known = {a.id: a for a in list_audiences()}
    if audience_id not in known:
        raise invalid({"audienceId": "no such Mailchimp audience"})
    sync = db.session.scalar(
        select(MailchimpSync).where(
            MailchimpSync.list_ref == list_id, MailchimpSync.audience_id == audience_id
        )
    )
    if sync is None:
        sync = MailchimpSync(
            list_ref=list_id, audience_id=audience_id, created_by_id=user.id, stats={}
        )
        db.session.add(sync)
    sync.audience_name = known[audience_id].name
    sync.frequency_seconds = frequency_seconds
    if sync.status in ("idle", "done", "error"):
        sync.status = "queued"
    db.session.commit()
    _ensure_webhook(sync)
    return sync


def _ensure_webhook(sync: MailchimpSync) -> None:
    """Register our webhook on the audience once (best effort; errors noted on the sync)."""
    conn = get_connection()
    if conn is None or (sync.stats or {}).get("webhookId"):
        return
    try:
        hook_id = get_client().create_webhook(
            sync.audience_id,
            webhook_url(conn),
            events={"subscribe", "unsubscribe", "profile", "upemail", "cleaned"},
        )
        sync.stats = {**(sync.stats or {}), "webhookId": hook_id}
    except (ProviderError, ValueError) as exc:
        sync.stats = {**(sync.stats or {}), "webhookError": str(exc)[:300]}
    db.session.commit()


def list_label(sync: MailchimpSync, user: User) -> str:
    return list_label_of(sync.list_ref, user)


def list_label_of(list_ref: str, user: User) -> str:
    """A CRM list's name through the audience registry (the lists channel owns it)."""
    resolver = audiences.resolvers().get("list")
    if resolver is None or resolver.describe is None:
        return list_ref
    try:
        return resolver.describe(list_ref, user)
    except LookupError:
        return f"{list_ref} (deleted)"


def sync_json(sync: MailchimpSync) -> dict[str, Any]:
    return {
        "id": sync.public_id,
        "listId": sync.list_ref,
        "audienceId": sync.audience_id,
        "audienceName": sync.audience_name,
        "frequencySeconds": sync.frequency_seconds,
        "status": sync.status,
        "progressDone": sync.progress_done,
        "progressTotal": sync.progress_total,
        "jobId": sync.job_id,
        "lastSyncedAt": _iso(sync.last_synced_at),
        "lastError": sync.last_error,
        "stats": sync.stats or {},
    }


def syncs() -> list[MailchimpSync]:
    return list(db.session.scalars(select(MailchimpSync).order_by(MailchimpSync.id)))
