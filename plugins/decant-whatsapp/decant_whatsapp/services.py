"""WhatsApp logic: the 24-hour window, sending, campaigns, inbound messages, receipts.

Meta lets a business write free text only within 24 hours of the customer's last
message; outside that window only an approved template (``ContentSid``) goes. The window
is kept per conversation (one per number) from the last inbound WhatsApp message.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select

from app.crm.models import Activity, Customer
from app.crm.scoping import get_visible_customer
from app.crm.services import log_activity, normalise_phone
from app.errors import Conflict, Invalid
from app.extensions import db
from app.messaging import audiences, consent, delivery
from app.messaging.models import Campaign
from app.messaging.rendering import TemplateProblem, customer_context, render
from app.models_base import utcnow
from app.signals import message_event
from decant_whatsapp.models import (
    WhatsAppCampaign,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppTemplate,
)
from decant_whatsapp.provider import plain

if TYPE_CHECKING:
    from app.auth.models import User

CHANNEL = "whatsapp"
ACTIVITY = "WhatsApp"
WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW_ERROR = "63016"
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout"})
START_WORDS = frozenset({"start", "unstop", "subscribe"})
STATUS_RANK = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 5}
STATUS_RANK |= {"undelivered": 5, "failed": 5, "read": 6}


# --- the window ------------------------------------------------------------------------


def conversation_for(phone: str, customer_id: int | None = None) -> WhatsAppConversation:
    found = db.session.scalar(
        select(WhatsAppConversation).where(WhatsAppConversation.phone == phone)
    )
    if found is None:
        found = WhatsAppConversation(phone=phone, customer_id=customer_id)
        db.session.add(found)
        db.session.flush()
    elif customer_id and found.customer_id is None:
        found.customer_id = customer_id
    return found


def window_closes_at(phone: str | None) -> datetime | None:
    """When the customer-service window of ``phone`` closes; None when it is not open."""
    if not phone:
        return None
    last = db.session.scalar(
        select(WhatsAppConversation.last_inbound_at).where(WhatsAppConversation.phone == phone)
    )
    if last is None or last + WINDOW <= utcnow():
        return None
    return last + WINDOW


def open_windows(phones: set[str]) -> set[str]:
    """Which of ``phones`` wrote to us within 24 hours (one query)."""
    if not phones:
        return set()
    since = utcnow() - WINDOW
    return set(
        db.session.scalars(
            select(WhatsAppConversation.phone).where(
                WhatsAppConversation.phone.in_(phones), WhatsAppConversation.last_inbound_at > since
            )
        )
    )


# --- templates -------------------------------------------------------------------------


def get_template(public_id: str | None, field: str = "templateId") -> WhatsAppTemplate:
    found = db.session.scalar(
        select(WhatsAppTemplate).where(WhatsAppTemplate.public_id == (public_id or ""))
    )
    if found is None:
        raise Invalid("unknown WhatsApp template", {field: "no such WhatsApp template"})
    return found


def create_template(user: User, data: dict[str, Any]) -> WhatsAppTemplate:
    """Record an approved template (its ContentSid from Twilio's Content API)."""
    sid = (data.get("content_sid") or "").strip()
    if not CONTENT_SID.match(sid):
        raise Invalid("bad ContentSid", {"contentSid": "HX followed by 32 hexadecimal digits"})
    variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
    for key, source in variables.items():
        if not key.isdigit():
            raise Invalid("bad variable", {"variables": f"{key!r}: Twilio numbers them 1, 2…"})
        try:
            render(source, {}, html=False)
        except TemplateProblem as exc:
            raise Invalid("bad variable", {"variables": f"{key}: {exc}"}) from exc
    if db.session.scalar(select(WhatsAppTemplate.id).where(WhatsAppTemplate.content_sid == sid)):
        raise Conflict("already recorded", {"contentSid": "this ContentSid is already recorded"})
    template = WhatsAppTemplate(
        name=data["name"],
        content_sid=sid,
        variables=variables,
        preview=data.get("preview") or "",
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(template)
    db.session.commit()
    return template


def fill(template: WhatsAppTemplate, customer: Customer | None) -> tuple[dict[str, str], str]:
    """ContentVariables for one customer, and the preview with them filled in."""
    context = customer_context(customer) if customer is not None else {}
    variables = {k: render(v, context, html=False).strip() for k, v in template.variables.items()}
    preview = template.preview or ""
    for key, value in variables.items():
        preview = preview.replace("{{" + key + "}}", value)
    return variables, preview


# --- sending ---------------------------------------------------------------------------


def send_to_customer(
    user: User,
    *,
    customer_id: str,
    to: str | None,
    body: str | None,
    template_id: str | None,
) -> WhatsAppMessage:
    """A rep's WhatsApp message to one customer: a template (any time) or free text (only
    while the customer's 24-hour window is open), to the customer's own number, with
    WhatsApp consent checked on it (a reply inside the window needs no recorded opt-in,
    as for SMS: the customer started the conversation)."""
    customer = get_visible_customer(customer_id, user)
    if customer is None:
        raise Invalid("unknown customer", {"customerId": "unknown customer"})
    number = consent.recipient_address(CHANNEL, customer, normalise_phone(to, "to") if to else None)
    text = (body or "").strip()
    if bool(text) == bool(template_id):
        raise Invalid("give body or templateId", {"body": "send either body or templateId"})
    window = window_closes_at(number)
    consent.check(CHANNEL, number, implied={number} if window else ())
    conversation = conversation_for(number, customer.id)
    message = WhatsAppMessage(
        conversation_id=conversation.id,
        customer_id=customer.id,
        user_id=getattr(user, "id", None),
        direction="outbound",
        to_address=number,
        status="queued",
    )
    if template_id:
        template = get_template(template_id)
        message.template_id = template.id
        message.content_sid = template.content_sid
        message.content_variables, message.body = fill(template, customer)
    else:
        if window is None:
            raise Conflict(
                "outside the 24-hour window",
                {"body": "the customer has not written in 24 hours: send an approved template"},
                code="window_closed",
            )
        message.body = render(text, customer_context(customer), html=False).strip()
    db.session.add(message)
    db.session.commit()
    message_id = message.id
    delivery.enqueue_single(CHANNEL, message_id)
    db.session.expire_all()
    return db.session.get(WhatsAppMessage, message_id)


def create_campaign(
    user: User,
    *,
    list_id: str,
    template_id: str | None,
    body: str | None,
    scheduled_at: datetime | None,
    name: str | None = None,
) -> Campaign:
    """A campaign to a list: always an approved template (it reaches people outside
    their window), its variables rendered per customer at send time."""
    audiences.resolve("list", list_id, user, field="listId")
    if body:
        raise Invalid(
            "campaigns send templates",
            {"body": "a list is written to outside the 24-hour window: give templateId"},
        )
    if not template_id:
        raise Invalid("templateId is required", {"templateId": "required for a list"})
    template = get_template(template_id)
    if scheduled_at is not None and scheduled_at.tzinfo is None:
        raise Invalid("no time zone", {"scheduledAt": "give a time zone (2026-05-01T09:00Z)"})
    campaign = Campaign(
        channel=CHANNEL,
        name=name or f"WhatsApp {utcnow():%Y-%m-%d %H:%M}",
        body=template.preview,
        audience_type="list",
        audience_ref=list_id,
        status="draft",
        scheduled_at=scheduled_at if scheduled_at and scheduled_at > utcnow() else None,
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(campaign)
    db.session.flush()
    db.session.add(WhatsAppCampaign(campaign_id=campaign.id, template_id=template.id))
    db.session.commit()
    delivery.launch(campaign)
    db.session.refresh(campaign)
    return campaign


def get_campaign(public_id: str, user: User) -> Campaign | None:
    stmt = select(Campaign).where(Campaign.public_id == public_id, Campaign.channel == CHANNEL)
    if not user.sees_all_territories:
        stmt = stmt.where(Campaign.created_by_id == user.id)
    return db.session.scalar(stmt)


# --- inbound and receipts --------------------------------------------------------------


def keyword(body: str) -> str | None:
    """``opt_out`` or ``opt_in`` when the whole message is one such word."""
    text = unicodedata.normalize("NFKC", body).casefold()
    words = re.sub(r"[^\w]+", " ", text).split()
    if len(words) != 1:
        return None
    if words[0] in STOP_WORDS:
        return "opt_out"
    if words[0] in START_WORDS:
        return "opt_in"
    return None


def receive(data: dict[str, Any]) -> str | None:
    """File an inbound WhatsApp message (it opens the window) and apply STOP/START on the
    WhatsApp channel only; returns the reply text, if any."""
    phone = plain(data.get("From"))
    body = data.get("Body") or ""
    customer = db.session.scalar(
        select(Customer).where(Customer.phone == phone).order_by(Customer.id)
    )
    now = utcnow()
    conversation = conversation_for(phone, customer.id if customer else None)
    conversation.last_inbound_at = now
    conversation.last_message_at = now
    conversation.profile_name = (data.get("ProfileName") or conversation.profile_name or "")[:200]
    message = WhatsAppMessage(
        conversation_id=conversation.id,
        customer_id=customer.id if customer else None,
        direction="inbound",
        status="received",
        delivery_status="received",
        provider="twilio",
        provider_message_id=data.get("MessageSid"),
        to_address=plain(data.get("To"))[:20],
        from_address=phone[:40],
        body=body,
        created_at=now,
    )
    db.session.add(message)
    if customer is not None:
        activity = log_activity(
            customer.id, ACTIVITY, body=body, direction="received", occurred_at=now, commit=False
        )
        db.session.flush()
        message.activity_id = activity.id
    db.session.commit()
    meaning = keyword(body)
    customer_id = customer.id if customer else None
    if meaning == "opt_out":
        consent.opt_out(
            CHANNEL,
            phone,
            reason="STOP",
            source="whatsapp:STOP",
            customer_id=customer_id,
            detail=body[:300],
        )
        return str(current_app.config["WHATSAPP_STOP_REPLY"])
    if meaning == "opt_in":
        consent.opt_in(
            CHANNEL, phone, source="whatsapp:START", customer_id=customer_id, evidence=body[:300]
        )
    return None


def status_update(data: dict[str, Any]) -> bool:
    """Apply a Twilio status callback to an outbound message; False when it is unknown."""
    message = db.session.scalar(
        select(WhatsAppMessage).where(
            WhatsAppMessage.provider_message_id == data.get("MessageSid"),
            WhatsAppMessage.direction == "outbound",
        )
    )
    if message is None:
        return False
    status = (data.get("MessageStatus") or "").lower()
    error_code = str(data.get("ErrorCode") or "") or None
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(message.delivery_status or "", -1):
        message.delivery_status = status[:20]
    if error_code:
        message.error_code = error_code[:40]
        message.error_message = (
            "outside the 24-hour window: only an approved template can go"
            if error_code == OUTSIDE_WINDOW_ERROR
            else f"Twilio {status}: error {error_code}"
        )
    if status in ("failed", "undelivered") and message.status == "sent":
        message.status = "failed"
    if message.activity_id:
        activity = db.session.get(Activity, message.activity_id)
        if activity is not None:
            note = status + (f" (error {error_code})" if error_code else "")
            activity.notes = f"{activity.notes}; {note}" if activity.notes else note
    db.session.commit()
    message_event.send(
        current_app._get_current_object(),
        channel=CHANNEL,
        message_id=message.id,
        event=status,
        data=dict(data),
    )
    return True


def on_webhook(sender: Any, provider: str, event_id: int, kind: str, data: dict, **_: Any):
    """``webhook_received`` receiver for the events this channel's routes recorded."""
    if provider != CHANNEL:
        return None
    if kind == "status":
        status_update(data)
        return None
    if kind == "inbound":
        return {"twiml_reply": receive(data)}
    return None


# --- JSON ------------------------------------------------------------------------------


def message_json(m: WhatsAppMessage) -> dict[str, Any]:
    return {
        "id": m.public_id,
        "to": m.to_address,
        "body": m.body,
        "contentSid": m.content_sid,
        "contentVariables": m.content_variables,
        "status": m.status,
        "deliveryStatus": m.delivery_status,
        "providerMessageId": m.provider_message_id,
        "error": m.error_message,
        "createdAt": m.created_at.isoformat() if m.created_at else None,
    }


def template_json(t: WhatsAppTemplate) -> dict[str, Any]:
    return {
        "id": t.public_id,
        "name": t.name,
        "contentSid": t.content_sid,
        "variables": t.variables,
        "preview": t.preview,
    }


def campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.public_id,
        "name": c.name,
        "status": c.status,
        "listId": c.audience_ref,
        "recipientsTotal": c.recipients_total,
        "counts": delivery.status_counts(c),
        "scheduledAt": c.scheduled_at.isoformat() if c.scheduled_at else None,
    }
