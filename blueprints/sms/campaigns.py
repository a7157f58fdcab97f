"""What the campaigns core asks of SMS: a body or template (segments checked), a
recipient's rendered text with its segments and encoding, a test text to the user's own
number, and delivery receipts as engagement."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.campaigns import registry
from app.campaigns.registry import CampaignChannel, Content
from app.errors import Invalid
from app.extensions import db
from app.messaging.models import Campaign, Template
from app.messaging.rendering import customer_context, render
from app.messaging.templates import check_sms_body
from app.models_base import utcnow
from blueprints.sms import outbound, services
from blueprints.sms.links import PLACEHOLDER_ID, tag_text
from blueprints.sms.models import SmsMessage
from providers.sms import segment_info

ENGAGEMENT = {"delivered": "delivered_at"}


def content(given: Content) -> dict[str, Any]:
    """A body rendered per customer at send time, or an SMS template; 422 naming the
    field when both or neither are given, or the text is too long."""
    if bool(given.body) == bool(given.template_id):
        raise Invalid("body or templateId", {"body": "send either body or templateId"})
    if given.template_id:
        template = services.sms_template(given.template_id)
        source, field = template.body or "", "templateId"
    else:
        template, source, field = None, (given.body or "").strip(), "body"
        check_sms_body(source)
    if not source.strip():
        raise Invalid("empty message", {field: "the message is empty"})
    _check_length(render(source, {}, html=False), field)
    return {
        "subject": None,
        "html": None,
        "body": None if template else source,
        "template_id": template.id if template else None,
    }


def _check_length(text: str, field: str) -> None:
    """The text's segments counted as it will go out, its links carrying their UTM
    parameters; a refusal says when those made the difference."""
    tagged = tag_text(text, PLACEHOLDER_ID)
    try:
        services.check_body(tagged, field)
    except Invalid as exc:
        if tagged != text and field in exc.fields:
            exc.fields[field] += " (counting the UTM parameters added to its links)"
        raise


def default_name(_columns: dict[str, Any]) -> str:
    return f"SMS {utcnow():%Y-%m-%d %H:%M}"


def _source(campaign: Campaign) -> str:
    if campaign.body:
        return campaign.body
    template = db.session.get(Template, campaign.template_id) if campaign.template_id else None
    return (template.body if template else "") or ""


def _text_for(campaign: Campaign, customer: Any) -> str:
    context = customer_context(customer) if customer is not None else {}
    return tag_text(render(_source(campaign), context, html=False).strip(), campaign.public_id)


def preview(campaign: Campaign, customer: Any) -> dict[str, Any]:
    text = _text_for(campaign, customer)
    info = segment_info(text)
    return {
        "body": text,
        "segments": info.segments,
        "encoding": info.encoding,
        "characters": info.characters,
    }


def send_test(campaign: Campaign, customer: Any, user: Any) -> str:
    """The text as ``customer`` would get it, to the user's own mobile number (consent
    applies to it like to any number)."""
    if not getattr(user, "phone", None):
        raise Invalid(
            "no mobile number", {"phone": "add your mobile number in your settings first"}
        )
    services.queue_message(
        customer=None, to=user.phone, body=_text_for(campaign, customer), user=user
    )
    return str(user.phone)


def stats(campaign: Campaign) -> dict[str, Any]:
    m = SmsMessage
    sent, delivered = db.session.execute(
        select(func.count(m.sent_at), func.count(m.delivered_at)).where(
            m.campaign_id == campaign.id
        )
    ).one()
    return {
        "sent": int(sent or 0),
        "delivered": int(delivered or 0),
        "deliveryRate": round(delivered / sent, 4) if sent else 0.0,
    }


def register(app: Flask) -> None:
    registry.register(
        app,
        CampaignChannel(
            name="sms",
            label="SMS",
            content=content,
            default_name=default_name,
            preview=preview,
            send_test=send_test,
            sender=outbound.sender,
            stats=stats,
            engagement=ENGAGEMENT,
            # SMS links are not tracked: a variant wins on replies or revenue
            ab_rates={"replyRate": "replied_at"},
            ab_fields=("body", "templateId", "sendDelayMinutes"),
            unreachable=(
                "nobody on this list can be texted: no member has a phone number and an SMS "
                "opt-in (or all opted out)"
            ),
        ),
    )
