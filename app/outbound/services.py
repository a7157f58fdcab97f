"""Endpoints and deliveries as admins manage them (pages and API share these)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select

from app.crypto import decrypt, encrypt
from app.current import app_object
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.outbound.addresses import check_public_url
from app.outbound.dispatch import enqueue
from app.outbound.events import EVENT_TYPES, forget_subscriptions
from app.outbound.models import OutboundDelivery, OutboundEndpoint

if TYPE_CHECKING:
    from app.auth.models import User

SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_url(url: str | None) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("Invalid URL", {"url": "must be an http:// or https:// URL with a host"})
    if len(url) > 2000:
        raise Invalid("Invalid URL", {"url": "at most 2000 characters"})
    if parts.username or parts.password:
        raise Invalid("Invalid URL", {"url": "must not carry a user name or password"})
    check_public_url(url)
    return url


def check_events(events: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise Invalid(
            "Unknown event type",
            {"events": f"unknown: {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"},
        )
    if not chosen:
        raise Invalid("No events", {"events": "choose at least one event"})
    return chosen


def _changed() -> None:
    forget_subscriptions(app_object())


def create_endpoint(
    url: str,
    events: list[str],
    *,
    description: str | None = None,
    active: bool = True,
    user: User | None = None,
) -> tuple[OutboundEndpoint, str]:
    """The new endpoint and its secret (shown to the admin now; revealable later)."""
    url, events = check_url(url), check_events(events)
    secret = new_secret()
    endpoint = OutboundEndpoint(
        url=url,
        events=events,
        description=(description or "").strip()[:200] or None,
        active=active,
        secret=encrypt(secret),
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(endpoint)
    db.session.commit()
    _changed()
    return endpoint, secret


def update_endpoint(endpoint: OutboundEndpoint, changes: dict[str, Any]) -> OutboundEndpoint:
    """Apply the given fields; switching an endpoint on clears its failure record."""
    if "url" in changes:
        endpoint.url = check_url(changes["url"])
    if "events" in changes:
        endpoint.events = check_events(changes["events"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()[:200] or None
    if "active" in changes and changes["active"] is not None:
        active = bool(changes["active"])
        if active and not endpoint.active:
            endpoint.failing_since = None
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
        endpoint.active = active
    db.session.commit()
    _changed()
    return endpoint


def delete_endpoint(endpoint: OutboundEndpoint) -> None:
    db.session.delete(endpoint)
    db.session.commit()
    _changed()


def reveal_secret(endpoint: OutboundEndpoint) -> str:
    return decrypt(endpoint.secret)


def rotate_secret(endpoint: OutboundEndpoint) -> str:
    secret = new_secret()
    endpoint.secret = encrypt(secret)
    db.session.commit()
    return secret


def get_endpoint(public_id: str) -> OutboundEndpoint:
    endpoint = db.session.scalar(
        select(OutboundEndpoint).where(OutboundEndpoint.public_id == public_id)
    )
    if endpoint is None:
        raise NotFound("Webhook endpoint not found")
    return endpoint


def get_delivery(endpoint: OutboundEndpoint, public_id: str) -> OutboundDelivery:
    delivery = db.session.scalar(
        select(OutboundDelivery).where(
            OutboundDelivery.public_id == public_id,
            OutboundDelivery.endpoint_id == endpoint.id,
        )
    )
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


def deliveries(endpoint: OutboundEndpoint) -> Select[OutboundDelivery]:
    return (
        select(OutboundDelivery)
        .where(OutboundDelivery.endpoint_id == endpoint.id)
        .order_by(OutboundDelivery.id.desc())
    )


def disabled_endpoints() -> list[OutboundEndpoint]:
    """Endpoints switched off for failing (the page's banner)."""
    return list(
        db.session.scalars(
            select(OutboundEndpoint)
            .where(OutboundEndpoint.disabled_at.is_not(None))
            .order_by(OutboundEndpoint.disabled_at.desc())
        )
    )


def resend(delivery: OutboundDelivery) -> str | None:
    """Send a delivery again now (same ``webhook-id``); the outcome of that attempt."""
    if not delivery.endpoint.active:
        raise Conflict(
            "The endpoint is switched off: switch it on first",
            {"endpoint": "switched off"},
        )
    if delivery.status == "sending":
        raise Conflict("An attempt is under way", {"delivery": "an attempt is under way"})
    delivery.status = "pending"
    delivery.next_attempt_at = datetime.now(UTC)
    db.session.commit()
    handle = enqueue(delivery.id, delivery.attempts, trigger="resend")
    db.session.refresh(delivery)
    return handle.status


def endpoint_json(endpoint: OutboundEndpoint, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events or []),
        "active": endpoint.active,
        "failingSince": _iso(endpoint.failing_since),
        "disabledAt": _iso(endpoint.disabled_at),
        "disabledReason": endpoint.disabled_reason,
        "createdAt": _iso(endpoint.created_at),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_json(delivery: OutboundDelivery) -> dict[str, Any]:
    return {
        "id": delivery.public_id,
        "eventType": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": _iso(delivery.next_attempt_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "createdAt": _iso(delivery.created_at),
        "payload": delivery.payload,
        "attemptLog": [
            {
                "at": _iso(a.attempted_at),
                "statusCode": a.status_code,
                "responseMs": a.response_ms,
                "error": a.error,
                "trigger": a.trigger,
            }
            for a in delivery.attempt_log
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
