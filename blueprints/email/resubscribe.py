"""Re-subscribing after an unsubscribe: double opt-in, by the person, knowingly.

The preference page never lifts a suppression by itself (anyone holding a forwarded email
could post it). It sends a confirmation to the address; only following that link and
pressing the button (a GET alone does nothing: link scanners fetch GETs) records the
opt-in and lifts the unsubscribe. A bounce or spam-complaint suppression is never lifted
from a public page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, render_template
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.messaging import consent, signing
from app.models_base import utcnow
from blueprints.email import sending, tracking
from blueprints.email.models import EmailEvent, EmailMessage
from providers.email import OutgoingEmail

CONFIRM_MAX_AGE = timedelta(days=7)
#: At most one confirmation email per address in this span (the button can be pressed
#: again and again; the mailbox owner should not be flooded).
RESEND_AFTER = timedelta(minutes=10)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="decant-resubscribe")


def confirm_url(message: EmailMessage) -> str:
    token = _serializer().dumps([message.id, message.to_address])
    return signing.public_url(f"/email/confirm/{token}")


def message_from_confirm_token(token: str) -> EmailMessage | None:
    """The message a confirmation link was made for, while it is fresh and its address
    unchanged; else None."""
    try:
        payload = _serializer().loads(token, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature):
        return None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        return None
    message = db.session.get(EmailMessage, payload[0])
    if message is None or message.to_address != payload[1]:
        return None
    return message


def request(message: EmailMessage) -> str:
    """The preference page's "subscribe me again": what happened, as a word for the page:
    ``subscribed`` (nothing to lift), ``blocked`` (bounce/complaint), ``sent`` (a
    confirmation is on its way) or ``recently_sent``."""
    blocked = consent.suppression_of("email", message.to_address)
    state = consent.status_of("email", message.to_address)
    if blocked is None and state != consent.OPTED_OUT:
        return "subscribed"
    if blocked is not None and blocked.reason in consent.HARD_REASONS:
        return "blocked"
    since = utcnow() - RESEND_AFTER
    recent = db.session.scalar(
        select(EmailEvent.id)
        .join(EmailMessage, EmailMessage.id == EmailEvent.message_id)
        .where(
            EmailMessage.to_address == message.to_address,
            EmailEvent.type == "resub_requested",
            EmailEvent.occurred_at >= since,
        )
        .limit(1)
    )
    if recent is not None:
        return "recently_sent"
    tracking.add_event(message, "resub_requested", source="preferences")
    db.session.commit()
    jobs.enqueue(send_confirmation, message.id, queue="messages")
    return "sent"


def send_confirmation(message_id: int) -> None:
    """Job: the confirmation email. It is transactional (the person asked for it), so it
    goes to a suppressed address, through the provider directly, never as marketing."""
    message = db.session.get(EmailMessage, message_id)
    if message is None:
        return
    link = confirm_url(message)
    html = render_template("email/confirm_email.html", link=link)
    text = (
        "Someone asked to subscribe this address to our email again.\n\n"
        f"To confirm, open this link and press the button:\n{link}\n\n"
        "If it was not you, ignore this message: nothing changes."
    )
    envelope = sending.Envelope.from_config()
    sending.provider().send(
        OutgoingEmail(
            to=message.to_address,
            from_email=envelope.from_email,
            from_name=envelope.from_name,
            subject="Confirm your subscription",
            html=html,
            text=text,
            idempotency_key=f"{message.public_id}-resubscribe-{utcnow():%Y%m%d%H%M}",
        )
    )


def confirm(message: EmailMessage) -> dict[str, Any]:
    """The person pressed the button in the confirmation: record the double opt-in and
    lift the unsubscribe (never a bounce or complaint: those need the address fixed)."""
    blocked = consent.suppression_of("email", message.to_address)
    if blocked is not None and blocked.reason in consent.HARD_REASONS:
        return {"ok": False, "reason": blocked.reason}
    message.unsubscribed_at = None
    consent.opt_in(
        "email",
        message.to_address,
        source="double_opt_in",
        method="double_opt_in",
        evidence=f"confirmation link for message {message.public_id}",
        customer_id=message.customer_id,
    )
    return {"ok": True, "reason": None}
