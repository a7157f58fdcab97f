"""Email sending: plain functions the API, pages and tests call (campaigns are the
core's: :mod:`app.campaigns`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.campaigns import service as campaigns
from app.campaigns.registry import Content
from app.campaigns.service import Draft
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, visible_customer_ids
from app.crm.services import normalise_email
from app.errors import invalid
from app.extensions import db
from app.messaging import consent, delivery, rendering
from app.messaging import templates as tpl
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import links, sending
from blueprints.email.models import EmailMessage

if TYPE_CHECKING:
    from app.auth.models import User


def _aware(when: datetime | None) -> datetime | None:
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


def _content(
    template_id: str | None, subject: str | None, html: str | None, extra_keys: set[str]
) -> tuple[str, str, int | None]:
    """Subject and sanitised HTML from a template or the request; 422 naming the field."""
    template_pk = None
    if template_id:
        template = tpl.get_template(template_id, "email")
        if template is None:
            raise invalid({"templateId": "unknown email template"})
        subject = subject or template.subject
        html = html or template.html
        template_pk = template.id
    subject, html = tpl.check_email_parts(subject, html, extra_keys)
    return subject, html, template_pk


def send_single(
    user: User,
    *,
    to: str | None,
    customer_id: str,
    template_id: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    personalization: dict[str, Any] | None = None,
    scheduled_at: datetime | None = None,
) -> EmailMessage:
    """Check, render and queue one email, then send it (now, or at ``scheduled_at``).

    The message goes only to the customer's own address (``to`` may repeat it or be
    left out), and consent is checked on that address."""
    customer = get_visible_customer(customer_id, user)
    if customer is None:
        raise invalid({"customerId": "unknown customer"})
    address = consent.recipient_address(
        "email", customer, normalise_email(to, "to") if to else None
    )
    extra = {k: v for k, v in (personalization or {}).items() if str(k).isidentifier()}
    subject, html, template_pk = _content(template_id, subject, html, set(extra))
    consent.check("email", address)
    scheduled_at = _aware(scheduled_at)
    message = EmailMessage(
        customer_id=customer.id,
        user_id=user.id,
        template_id=template_pk,
        to_address=address,
        personalization=extra or None,
        scheduled_at=scheduled_at,
        next_attempt_at=scheduled_at,
        status="queued",
    )
    db.session.add(message)
    db.session.flush()
    try:
        rendered = sending.render_for(
            message, subject, html, rendering.customer_context(customer, extra)
        )
    except Exception as exc:
        db.session.rollback()
        raise invalid({"html": f"cannot render: {exc}"}) from exc
    message.subject, message.html, message.text = rendered.subject, rendered.html, rendered.text
    links.store_message_links({message.id: rendered.links})
    db.session.commit()
    if scheduled_at and scheduled_at > utcnow():
        from app import jobs

        jobs.enqueue(delivery.send_single, "email", message.id, queue="messages", at=scheduled_at)
    else:
        delivery.enqueue_single("email", message.id)
    db.session.refresh(message)
    return message


def get_message(public_id: str, user: User) -> EmailMessage | None:
    """One email message ``user`` may see: its customer's, within the user's territory
    (a message with no customer only for those who see every territory)."""
    stmt = select(EmailMessage).where(EmailMessage.public_id == public_id)
    if not user.sees_all_territories:
        stmt = stmt.where(EmailMessage.customer_id.in_(visible_customer_ids(user)))
    return db.session.scalar(stmt)


def message_detail_json(m: EmailMessage) -> dict[str, Any]:
    """:func:`message_json` with its campaign and its engagement times."""
    campaign = db.session.get(Campaign, m.campaign_id) if m.campaign_id else None
    times = {
        "deliveredAt": m.delivered_at,
        "firstOpenedAt": m.first_opened_at,
        "firstClickedAt": m.first_clicked_at,
        "bouncedAt": m.bounced_at,
        "complainedAt": m.complained_at,
        "unsubscribedAt": m.unsubscribed_at,
    }
    return {
        **message_json(m),
        "campaignId": campaign.public_id if campaign else None,
        **{key: when.isoformat() if when else None for key, when in times.items()},
    }


def message_json(m: EmailMessage) -> dict[str, Any]:
    customer = db.session.get(Customer, m.customer_id) if m.customer_id else None
    return {
        "id": m.public_id,
        "to": m.to_address,
        "customerId": customer.public_id if customer else None,
        "subject": m.subject,
        "status": m.status,
        "provider": m.provider,
        "providerMessageId": m.provider_message_id,
        "error": (
            {"code": m.error_code, "message": m.error_message}
            if m.error_code or m.error_message
            else None
        ),
        "opens": m.open_count,
        "clicks": m.click_count,
        "sentAt": m.sent_at.isoformat() if m.sent_at else None,
        "scheduledAt": m.scheduled_at.isoformat() if m.scheduled_at else None,
        "createdAt": m.created_at.isoformat() if m.created_at else None,
    }


# --- campaigns ---------------------------------------------------------------------------


def send_bulk(
    user: User,
    *,
    list_id: str,
    template_id: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    scheduled_at: datetime | None = None,
    name: str | None = None,
) -> Campaign:
    """An email campaign to a list, sent now or at ``scheduled_at`` (the core's draft,
    sent at once): the benchmarks' and scripts' one call."""
    return campaigns.create_and_send(
        user,
        Draft(
            channel="email",
            list_id=list_id,
            name=name,
            content=Content(subject=subject, html=html, template_id=template_id),
            scheduled_at=scheduled_at,
        ),
    )
