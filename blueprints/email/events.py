"""What provider events and unsubscribe links do to messages, consent and stats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app

from app.current import app_object
from app.extensions import db
from app.messaging import consent, machine_signals
from app.models_base import utcnow
from app.signals import message_event
from blueprints.email import tracking
from blueprints.email.models import EmailMessage

EMAIL_PROVIDERS = ("sendgrid", "resend", "ses")


def unsubscribe(message: EmailMessage, source: str = "unsubscribe") -> bool:
    """Suppress the message's address now (consent history + customer_opted_out)."""
    first = message.unsubscribed_at is None
    if first:
        message.unsubscribed_at = utcnow()
        tracking.add_event(message, "unsubscribe", source=source[:20])
    changed = consent.opt_out(
        "email",
        message.to_address,
        reason="unsubscribe",
        source=source[:40],
        customer_id=message.customer_id,
    )
    if first:
        announce(message, "unsubscribe", {"source": source})
    return changed


def announce(message: EmailMessage, kind: str, data: dict[str, Any] | None = None) -> None:
    """``message_event`` after the event was committed."""
    message_event.send(
        app_object(),
        channel="email",
        message_id=message.public_id,
        event=kind,
        data={"customerId": message.customer_id, **(data or {})},
    )


def apply_event(data: dict[str, Any]) -> str | None:
    """Apply one normalised provider event (as stored by the webhook); what it did."""
    message = tracking.find_message(
        data.get("ourMessageId"), data.get("providerMessageId"), data.get("email")
    )
    if message is None:
        return None
    kind = data.get("type")
    at = when(data.get("occurredAt"))
    source = str(data.get("provider") or "provider")
    if kind in ("open", "click"):
        verdict = _provider_verdict(message, kind, at, data)
        tracking.record_engagement(
            message, kind, at=at, url=data.get("url"), source=source, verdict=verdict
        )
        return kind
    if kind == "delivered":
        message.delivered_at = message.delivered_at or at
        tracking.add_event(message, "delivered", at=at, source=source)
        db.session.commit()
        announce(message, kind, {"source": source})
        return kind
    if kind == "bounce":
        message.bounced_at = message.bounced_at or at
        tracking.add_event(message, "bounce", at=at, source=source)
        db.session.commit()
        if data.get("hard"):
            consent.opt_out(
                "email",
                message.to_address,
                reason="bounce",
                source=f"{source}:bounce",
                customer_id=message.customer_id,
            )
        announce(message, kind, {"source": source, "hard": bool(data.get("hard"))})
        return kind
    if kind == "complaint":
        message.complained_at = message.complained_at or at
        tracking.add_event(message, "complaint", at=at, source=source)
        db.session.commit()
        consent.opt_out(
            "email",
            message.to_address,
            reason="complaint",
            source=f"{source}:complaint",
            customer_id=message.customer_id,
        )
        return kind
    if kind == "unsubscribe":
        unsubscribe(message, source=f"{source}:unsubscribe")
        return kind
    if kind == "dropped":
        tracking.add_event(message, "dropped", at=at, source=source)
        db.session.commit()
        return kind
    return None


def _provider_verdict(
    message: EmailMessage, kind: str, at: datetime, data: dict[str, Any]
) -> machine_signals.Verdict:
    """Human or machine, from what the provider passed on (its flag, agent, address)."""
    rules = machine_signals.Rules.from_config(current_app.config)
    agent, ip = data.get("userAgent"), data.get("ip")
    if kind == "open":
        flagged = bool(data.get("machine"))
        return machine_signals.classify_open(
            provider_machine_flag=flagged, user_agent=agent, ip=ip, rules=rules
        )
    left, earlier = tracking.click_context(message, at)
    return machine_signals.classify_click(
        url=str(data.get("url") or ""),
        at=at,
        sent_at=left,
        earlier_clicks=earlier,
        user_agent=agent,
        ip=ip,
        rules=rules,
    )


def when(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return utcnow()  # an unreadable time: the moment we heard of it
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return utcnow()


def on_webhook(sender: Flask, *, provider: str, kind: str, data: dict[str, Any], **_: Any):
    """``webhook_received`` receiver: email provider events only."""
    if provider not in EMAIL_PROVIDERS or not kind.startswith("email."):
        return None
    return apply_event(data)
