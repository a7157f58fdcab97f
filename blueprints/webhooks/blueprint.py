"""The blueprint every provider endpoint hangs off, and the shared record-once step."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models_base import utcnow
from app.signals import webhook_received
from blueprints.webhooks.models import WebhookEvent

bp = Blueprint("webhooks", __name__, url_prefix="/api/sales/marketing/webhooks")


def record_once(
    provider: str, event_id: str, kind: str, payload: dict[str, Any]
) -> WebhookEvent | None:
    """Store a verified event; None when this provider event id was seen before.

    The unique (provider, event_id) constraint decides, so five concurrent deliveries of
    one event still have exactly one effect.
    """
    event = WebhookEvent(provider=provider, event_id=event_id[:200], kind=kind, payload=payload)
    db.session.add(event)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return event


def dispatch(event: WebhookEvent) -> list[Any]:
    """Tell the channels (``webhook_received``); returns their answers, marks it processed."""
    try:
        answers = webhook_received.send(
            current_app._get_current_object(),
            provider=event.provider,
            event_id=event.id,
            kind=event.kind,
            data=event.payload,
        )
        event.processed_at = utcnow()
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        event = db.session.merge(event)
        event.error = str(exc)[:500]
        db.session.commit()
        raise
    return [answer for _, answer in answers if answer is not None]
