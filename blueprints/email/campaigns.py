"""What the campaigns core asks of email: content checks, a recipient's preview, a test
send to the user, engagement (opens, clicks, bounces...) and clicks per link."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select

from app.campaigns import registry
from app.campaigns.registry import CampaignChannel, Content
from app.errors import Invalid
from app.extensions import db
from app.messaging import delivery, rendering
from app.messaging import templates as tpl
from app.messaging.models import Campaign
from blueprints.email import failover, sending
from blueprints.email.models import EmailEvent, EmailMessage

#: recipient filters -> the message column set when it happened
ENGAGEMENT = {
    "delivered": "delivered_at",
    "opened": "first_opened_at",
    "clicked": "first_clicked_at",
    "bounced": "bounced_at",
    "complained": "complained_at",
    "unsubscribed": "unsubscribed_at",
}


def content(given: Content) -> dict[str, Any]:
    """Subject and sanitised HTML, from a template or as given; 422 naming the field."""
    subject, html, template_pk = given.subject, given.html, None
    if given.template_id:
        template = tpl.get_template(given.template_id, "email")
        if template is None:
            raise Invalid("unknown template", {"templateId": "unknown email template"})
        subject = subject or template.subject
        html = html or template.html
        template_pk = template.id
    subject, html = tpl.check_email_parts(subject, html, set())
    return {"subject": subject, "html": html, "body": None, "template_id": template_pk}


def default_name(columns: dict[str, Any]) -> str:
    return str(columns.get("subject") or "Email campaign")


def preview(campaign: Campaign, customer: Any) -> dict[str, Any]:
    return tpl.preview("email", customer, subject=campaign.subject, html=campaign.html)


def send_test(campaign: Campaign, customer: Any, user: Any) -> str:
    """The campaign rendered for ``customer`` (tokens as they would be), marked as a
    test, to the user's own address, through the provider like any email."""
    context = rendering.customer_context(customer) if customer is not None else {}
    message = EmailMessage(
        user_id=user.id, template_id=campaign.template_id, to_address=user.email, status="queued"
    )
    db.session.add(message)
    db.session.flush()
    try:
        rendered = sending.render_for(
            message, f"[Test] {campaign.subject or ''}", campaign.html or "", context
        )
    except Exception as exc:
        db.session.rollback()
        raise Invalid("cannot render", {"html": f"cannot render: {exc}"}) from exc
    message.subject, message.html, message.text = rendered.subject, rendered.html, rendered.text
    db.session.commit()
    delivery.enqueue_single("email", message.id)
    return message.to_address


def sender() -> str:
    return str(current_app.config.get("FROM_EMAIL") or "")


def stats(campaign: Campaign) -> dict[str, Any]:
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
            func.count(m.first_human_open_at),
            func.count(m.first_human_click_at),
        ).where(m.campaign_id == campaign.id)
    ).one()
    (
        delivered,
        opens,
        unique_opens,
        clicks,
        unique_clicks,
        bounces,
        complaints,
        unsubs,
        sent,
        human_opens,
        human_clicks,
    ) = (int(v or 0) for v in row)
    base = delivered or sent
    return {
        # people, not machines (app/messaging/machine_signals.py): what rates should mean
        "humanOpens": human_opens,
        "humanClicks": human_clicks,
        "machineOpens": max(0, unique_opens - human_opens),
        "machineClicks": max(0, unique_clicks - human_clicks),
        "humanOpenRate": round(human_opens / base, 4) if base else 0.0,
        "humanClickRate": round(human_clicks / base, 4) if base else 0.0,
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


def engagement_times(campaign: Campaign) -> list[tuple[Any, Any]]:
    m = EmailMessage
    rows = db.session.execute(
        select(m.first_opened_at, m.first_clicked_at).where(
            m.campaign_id == campaign.id,
            (m.first_opened_at.is_not(None)) | (m.first_clicked_at.is_not(None)),
        )
    ).all()
    return [(opened, clicked) for opened, clicked in rows]


def links(campaign: Campaign) -> list[dict[str, Any]]:
    """Clicks per link, read from the click events (the URL each click went to).

    The one place that knows where clicks per link come from: when links are stored per
    campaign, this reads those tables instead."""
    e = EmailEvent
    rows = db.session.execute(
        select(e.url, func.count(), func.count(func.distinct(e.message_id)))
        .where(e.campaign_id == campaign.id, e.type == "click", e.url.is_not(None))
        .group_by(e.url)
        .order_by(func.count().desc(), e.url)
    ).all()
    return [{"url": url, "clicks": n, "uniqueClickers": unique} for url, n, unique in rows]


def register(app: Flask) -> None:
    registry.register(
        app,
        CampaignChannel(
            name="email",
            label="Email",
            content=content,
            default_name=default_name,
            preview=preview,
            send_test=send_test,
            sender=sender,
            stats=stats,
            engagement_times=engagement_times,
            links=links,
            engagement=ENGAGEMENT,
            details=lambda campaign: {
                "providers": failover.provider_split(campaign),
                "breakerEvents": failover.breaker_events(campaign),
            },
            ab_rates={
                "humanClickRate": "first_human_click_at",
                "humanOpenRate": "first_human_open_at",
            },
            unreachable=(
                "nobody on this list can be emailed: no member has an email address that is "
                "not opted out or suppressed"
            ),
        ),
    )
