"""What Decant tells the host CRM: the event types, their payloads, and the receivers of
the core's signals that turn each into one delivery row per subscribed endpoint.

Rows join the sender's transaction. Signals sent after the sender's commit (every one but
``message_sent``, see :mod:`app.signals`) are committed here and dispatched at once;
``message_sent`` rows are committed by the delivery engine with its batch and dispatched
when the request or job ends (:func:`app.outbound.dispatch.dispatch_ready`), or by the
sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from app import signals
from app.current import app_object
from app.extensions import db
from app.outbound.models import OutboundDelivery, OutboundEndpoint

EVENT_TYPES: tuple[str, ...] = (
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.opened",
    "message.clicked",
    "message.unsubscribed",
    "sms.received",
    "consent.changed",
    "import.finished",
)

#: A provider's event name (``message_event``'s ``event``) -> our event type.
MESSAGE_EVENTS: dict[str, str] = {
    "delivered": "message.delivered",
    "bounce": "message.bounced",
    "undelivered": "message.bounced",  # Twilio: the carrier could not deliver it
    "failed": "message.bounced",
    "open": "message.opened",
    "click": "message.clicked",
    "unsubscribe": "message.unsubscribed",
}

#: How long the endpoints' subscriptions are cached per process (an endpoint changed in
#: this process is seen at once; one changed in another within this many seconds).
CACHE_SECONDS = 5.0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def subscribers(event_type: str) -> list[int]:
    """Ids of the active endpoints subscribed to ``event_type``."""
    app = app_object()
    cached = app.extensions.get("decant_outbound_subs")
    now = time.monotonic()
    if cached is None or now - cached[0] > CACHE_SECONDS:
        rows = db.session.execute(
            select(OutboundEndpoint.id, OutboundEndpoint.events).where(OutboundEndpoint.active)
        ).all()
        cached = (now, [(row.id, set(row.events or ())) for row in rows])
        app.extensions["decant_outbound_subs"] = cached
    return [endpoint_id for endpoint_id, events in cached[1] if event_type in events]


def forget_subscriptions(app: Flask) -> None:
    app.extensions.pop("decant_outbound_subs", None)


def record(event_type: str, data: dict[str, Any], *, commit: bool = True) -> int:
    """One delivery row per subscribed endpoint; how many. ``commit`` is False when the
    sender commits the rows with its own work (``message_sent``)."""
    endpoint_ids = subscribers(event_type)
    if not endpoint_ids:
        return 0
    payload = {"type": event_type, "timestamp": _now_iso(), "data": data}
    for endpoint_id in endpoint_ids:
        db.session.add(
            OutboundDelivery(
                endpoint_id=endpoint_id,
                event_type=event_type,
                payload=payload,
                status="pending",
                attempts=0,
                next_attempt_at=datetime.now(UTC),
            )
        )
    if commit:
        db.session.commit()
        from app.outbound.dispatch import dispatch_ready

        dispatch_ready()
    return len(endpoint_ids)


# --- public ids of what the signals name by primary key -------------------------------


def customer_public_id(customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    from app.crm.models import Customer

    return db.session.scalar(select(Customer.public_id).where(Customer.id == customer_id))


def _message_id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- receivers -----------------------------------------------------------------------


def on_message_sent(
    sender: Any, *, channel: str, message_id: Any, customer_id: int | None = None, **_: Any
) -> None:
    if not subscribers("message.sent"):
        return
    data = {
        "channel": channel,
        "messageId": _message_id(message_id),
        "customerId": customer_public_id(customer_id),
    }
    record("message.sent", data, commit=False)


def on_message_event(
    sender: Any,
    *,
    channel: str,
    message_id: Any,
    event: str,
    data: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    event_type = MESSAGE_EVENTS.get(str(event).lower())
    if event_type is None or not subscribers(event_type):
        return
    data = data or {}
    out: dict[str, Any] = {"channel": channel, "messageId": _message_id(message_id)}
    if data.get("customerId") is not None:
        out["customerId"] = customer_public_id(data.get("customerId"))
    if event_type == "message.clicked" and data.get("url"):
        out["url"] = data["url"]
    if channel == "sms" and event_type == "message.bounced":
        out["reason"] = str(event).lower()
        out["errorCode"] = data.get("ErrorCode") or None
    record(event_type, out)


def on_message_events(sender: Any, *, channel: str, events: list[dict[str, Any]], **_: Any) -> None:
    """A batch of provider reports: each as :func:`on_message_event` would have it."""
    for event in events:
        on_message_event(
            sender,
            channel=channel,
            message_id=event["message_id"],
            event=event["event"],
            data=event.get("data"),
        )


def _consent(status: str) -> Callable[..., None]:
    def receiver(
        sender: Any,
        *,
        channel: str,
        address: str,
        customer_id: int | None = None,
        source: str | None = None,
        **_: Any,
    ) -> None:
        if not subscribers("consent.changed"):
            return
        record(
            "consent.changed",
            {
                "channel": channel,
                "address": address,
                "customerId": customer_public_id(customer_id),
                "status": status,
                "source": source,
            },
        )

    return receiver


on_opted_out = _consent("opted_out")
on_opted_in = _consent("opted_in")


def on_inbound_sms(
    sender: Any,
    *,
    data: dict[str, Any],
    message_id: Any = None,
    customer_id: int | None = None,
    **_: Any,
) -> None:
    if not subscribers("sms.received"):
        return
    record(
        "sms.received",
        {
            "messageId": _message_id(message_id),
            "customerId": customer_public_id(customer_id),
            "from": data.get("From"),
            "to": data.get("To"),
            "body": data.get("Body"),
            "providerMessageId": data.get("MessageSid"),
        },
    )


def on_import_finished(
    sender: Any, *, entity: str, report: dict[str, int], user_id: int | None = None, **_: Any
) -> None:
    if not subscribers("import.finished"):
        return
    from app.auth.models import User

    user = db.session.get(User, user_id) if user_id else None
    counts = {k: report.get(k, 0) for k in ("created", "updated", "unchanged", "rejected")}
    record(
        "import.finished",
        {"entity": entity, **counts, "userId": user.public_id if user else None},
    )


def connect(app: Flask) -> None:
    """Subscribe to the core's signals for this app."""
    pairs = (
        (signals.message_sent, on_message_sent),
        (signals.message_event, on_message_event),
        (signals.message_events, on_message_events),
        (signals.customer_opted_out, on_opted_out),
        (signals.customer_opted_in, on_opted_in),
        (signals.inbound_sms, on_inbound_sms),
        (signals.import_finished, on_import_finished),
    )
    for signal, receiver in pairs:
        signal.connect(receiver, sender=app, weak=False)
