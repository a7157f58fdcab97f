"""Email sending and campaign logic: plain functions the API, pages and tests call."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select

from app.api.errors import ApiError, validation_error
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, visible_customer_ids
from app.crm.services import normalise_email
from app.extensions import db
from app.messaging import audiences, consent, delivery, rendering
from app.messaging import templates as tpl
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import links, sending
from blueprints.email.models import EmailEvent, EmailMessage

PAST_TIME = "is in the past: give a time to come (UTC), or none to send now"
NOBODY_TO_EMAIL = (
    "nobody on this list can be emailed: no member has an email address that is not "
    "opted out or suppressed"
)


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
            raise validation_error({"templateId": "unknown email template"})
        subject = subject or template.subject
        html = html or template.html
        template_pk = template.id
    subject, html = tpl.check_email_parts(subject, html, extra_keys)
    return subject, html, template_pk


def send_single(
    user: Any,
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
        raise validation_error({"customerId": "unknown customer"})
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
        raise validation_error({"html": f"cannot render: {exc}"}) from exc
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


def get_message(public_id: str, user: Any) -> EmailMessage | None:
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
    return {
        "id": m.public_id,
        "to": m.to_address,
        "customerId": m.customer_id and db.session.get(Customer, m.customer_id).public_id,
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
    user: Any,
    *,
    list_id: str,
    template_id: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    scheduled_at: datetime | None = None,
    name: str | None = None,
) -> Campaign:
    """Create an email campaign to a list and launch it (now or at ``scheduled_at``):
    a 422 naming the field for an unknown list, one nobody on it may be emailed from, a
    time already past or unusable content."""
    scheduled_at = _aware(scheduled_at)
    if scheduled_at is not None and scheduled_at <= utcnow():
        raise validation_error({"scheduledAt": PAST_TIME})
    members = audiences.resolve("list", list_id, user)  # 422 naming listId when unknown
    subject, html, template_pk = _content(template_id, subject, html, set())
    if not delivery.has_reachable("email", members):
        raise validation_error({"listId": NOBODY_TO_EMAIL})
    resolver = audiences.resolvers().get("list")
    label = None
    if resolver is not None and resolver.describe is not None:
        label = resolver.describe(list_id, user)
    campaign = Campaign(
        channel="email",
        name=(name or subject)[:200],
        subject=subject,
        html=html,
        template_id=template_pk,
        audience_type="list",
        audience_ref=list_id,
        audience_name=label,
        scheduled_at=scheduled_at,
        created_by_id=user.id,
    )
    db.session.add(campaign)
    db.session.commit()
    delivery.launch(campaign)
    db.session.refresh(campaign)
    return campaign


def visible_campaigns(user: Any, channel: str | None = "email") -> Select[Any]:
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if channel:
        stmt = stmt.where(Campaign.channel == channel)
    if not user.sees_all_territories:
        stmt = stmt.where(Campaign.created_by_id == user.id)
    return stmt


def get_campaign(public_id: str, user: Any) -> Campaign | None:
    stmt = visible_campaigns(user, None).where(Campaign.public_id == public_id)
    return db.session.scalar(stmt)


def campaign_stats(campaign: Campaign) -> dict[str, Any]:
    """Engagement: delivered, opens (total, unique), clicks, rates, bounces, complaints..."""
    m = EmailMessage
    row = db.session.execute(
        select(
            func.count(m.delivered_at),
            func.coalesce(func.sum(m.open_count), 0),
            func.count(m.first_opened_at),
            func.coalesce(func.sum(m.click_count), 0),
            func.count(m.first_clicked_at),
            func.count(m.bounced_at),
            func.count(m.complained_at),
            func.count(m.unsubscribed_at),
            func.count(m.sent_at),
        ).where(m.campaign_id == campaign.id)
    ).one()
    delivered, opens, unique_opens, clicks, unique_clicks, bounces, complaints, unsubs, sent = (
        int(v or 0) for v in row
    )
    base = delivered or sent
    return {
        "sent": sent,
        "delivered": delivered,
        "opens": opens,
        "uniqueOpens": unique_opens,
        "clicks": clicks,
        "uniqueClicks": unique_clicks,
        "openRate": round(unique_opens / base, 4) if base else 0.0,
        "clickRate": round(unique_clicks / base, 4) if base else 0.0,
        "bounces": bounces,
        "complaints": complaints,
        "unsubscribes": unsubs,
    }


def campaign_timeline(campaign: Campaign, buckets: int = 24) -> dict[str, Any]:
    """Opens and clicks per time bucket since the campaign started (for the chart)."""
    events = db.session.execute(
        select(EmailEvent.type, EmailEvent.occurred_at).where(
            EmailEvent.campaign_id == campaign.id, EmailEvent.type.in_(("open", "click"))
        )
    ).all()
    start = _aware(campaign.started_at or campaign.created_at) or utcnow()
    times = [_aware(at) for _, at in events]
    end = max([utcnow(), *[t for t in times if t]])
    span = max((end - start).total_seconds(), 60.0)
    width = span / buckets
    series = {"open": [0] * buckets, "click": [0] * buckets}
    for (kind, _), at in zip(events, times, strict=True):
        index = min(buckets - 1, max(0, int(((at or start) - start).total_seconds() // width)))
        series[kind][index] += 1
    return {
        "start": start.isoformat(),
        "bucketSeconds": width,
        "opens": series["open"],
        "clicks": series["click"],
    }


def campaign_json(campaign: Campaign, *, detail: bool = False) -> dict[str, Any]:
    counts = delivery.status_counts(campaign)
    out: dict[str, Any] = {
        "id": campaign.public_id,
        "channel": campaign.channel,
        "name": campaign.name,
        "subject": campaign.subject,
        "status": campaign.status,
        "audience": {"type": campaign.audience_type, "id": campaign.audience_ref},
        "audienceName": campaign.audience_name,
        "recipientsTotal": campaign.recipients_total,
        "counts": counts,
        "scheduledAt": campaign.scheduled_at.isoformat() if campaign.scheduled_at else None,
        "startedAt": campaign.started_at.isoformat() if campaign.started_at else None,
        "finishedAt": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "lastError": campaign.last_error,
        "actions": list(delivery.campaign_actions(campaign.status)),
        "createdAt": campaign.created_at.isoformat() if campaign.created_at else None,
    }
    if campaign.channel == "email":
        out["stats"] = campaign_stats(campaign)
        if detail:
            out["timeline"] = campaign_timeline(campaign)
    return out


def change_state(campaign: Campaign, action: str) -> Campaign:
    try:
        delivery.set_campaign_state(campaign, action)
    except ValueError as exc:
        db.session.rollback()
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.refresh(campaign)
    return campaign
