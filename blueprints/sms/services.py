"""SMS logic: sending, conversations, inbound texts, delivery receipts. No request objects."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import phonenumbers
from flask import current_app
from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError

from app.crm.models import Activity, Customer
from app.crm.scoping import get_visible_customer, visible_customer_ids
from app.crm.services import log_activity, normalise_phone
from app.current import app_object
from app.errors import invalid, unknown
from app.extensions import db
from app.ids import new_public_id
from app.messaging import consent, delivery
from app.messaging.models import Template
from app.messaging.rendering import customer_context, render
from app.messaging.templates import check_sms_body
from app.models_base import utcnow
from app.signals import inbound_sms, message_event
from blueprints.sms import keywords, settings
from blueprints.sms.models import SmsConversation, SmsMessage
from providers.sms import segment_info

if TYPE_CHECKING:
    from app.auth.models import User

#: Receipts saying a text never reached the phone: the message failed.
UNDELIVERED = frozenset({"undelivered", "failed"})
#: Twilio's statuses in the order they happen (a late callback never moves back).
STATUS_RANK = {
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
}


# --- conversations -------------------------------------------------------------------


def conversation_for(customer_id: int | None, phone: str) -> SmsConversation:
    """The thread for this customer (or unknown contact) and number; created once."""
    stmt = select(SmsConversation).where(SmsConversation.phone == phone)
    stmt = stmt.where(
        SmsConversation.customer_id == customer_id
        if customer_id is not None
        else SmsConversation.customer_id.is_(None)
    )
    found = db.session.scalar(stmt.order_by(SmsConversation.id))
    if found is not None:
        return found
    rep_id = (
        db.session.scalar(select(Customer.rep_id).where(Customer.id == customer_id))
        if customer_id is not None
        else None
    )
    conversation = SmsConversation(
        customer_id=customer_id, phone=phone, unread_count=0, assigned_to_id=rep_id
    )
    try:
        with db.session.begin_nested():
            db.session.add(conversation)
    except IntegrityError:  # created concurrently
        return db.session.scalars(stmt.order_by(SmsConversation.id).limit(1)).one()
    return conversation


def visible_conversations(user: User) -> Select[Any]:
    """Conversations ``user`` may see: their territory's customers; unknown contacts
    only for those who see every territory."""
    stmt = select(SmsConversation)
    if user.sees_all_territories:
        return stmt
    return stmt.where(SmsConversation.customer_id.in_(visible_customer_ids(user)))


def get_conversation(public_id: str, user: User) -> SmsConversation | None:
    return db.session.scalar(
        visible_conversations(user).where(SmsConversation.public_id == public_id)
    )


def inbox(user: User) -> Select[Any]:
    return visible_conversations(user).order_by(
        SmsConversation.last_message_at.desc().nulls_last(), SmsConversation.id.desc()
    )


def thread(conversation: SmsConversation, limit: int = 500) -> list[SmsMessage]:
    """The conversation's messages, oldest first (the last ``limit``)."""
    rows = db.session.scalars(
        select(SmsMessage)
        .where(SmsMessage.conversation_id == conversation.id)
        .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def mark_read(conversation: SmsConversation) -> None:
    if conversation.unread_count:
        conversation.unread_count = 0
        db.session.execute(
            db.update(SmsMessage)
            .where(
                SmsMessage.conversation_id == conversation.id,
                SmsMessage.direction == "inbound",
                SmsMessage.read_at.is_(None),
            )
            .values(read_at=utcnow())
        )
        db.session.commit()


def customer_conversation(customer: Customer) -> SmsConversation | None:
    return db.session.scalar(
        select(SmsConversation)
        .where(SmsConversation.customer_id == customer.id)
        .order_by(SmsConversation.last_message_at.desc().nulls_last())
    )


def customer_for(conversation: SmsConversation) -> Customer | None:
    if conversation.customer_id is None:
        return None
    return db.session.get(Customer, conversation.customer_id)


def unread_total(user: User) -> int:
    stmt = visible_conversations(user).with_only_columns(
        db.func.coalesce(db.func.sum(SmsConversation.unread_count), 0)
    )
    return int(db.session.scalar(stmt) or 0)


# --- sending -------------------------------------------------------------------------


def check_body(body: str, field: str) -> tuple[int, str]:
    """Segments and encoding, or a 422 naming ``field`` when empty or too long."""
    info = segment_info(body)
    limit = int(settings.get("SMS_MAX_SEGMENTS"))
    if info.segments > limit:
        raise invalid(
            {field: f"{info.segments} segments ({info.encoding}); at most {limit} allowed"}
        )
    return info.segments, info.encoding


def sms_template(template_id: str, field: str = "templateId") -> Template:
    template = db.session.scalar(
        select(Template).where(Template.public_id == template_id, Template.type == "sms")
    )
    if template is None:
        raise unknown("SMS template", field=field)
    return template


def compose(customer: Customer | None, body: str | None, template_id: str | None) -> dict:
    """The text to send: a template, or a typed body, rendered for the customer like a
    bulk text (its tokens checked first: an unknown token is a 422 naming the field)."""
    if (body is None) == (template_id is None):
        raise invalid({"body": "send either body or templateId"})
    if template_id is not None:
        template = sms_template(template_id)
        source, field, template_pk = template.body or "", "templateId", template.id
    else:
        source, field, template_pk = (body or "").strip(), "body", None
        check_sms_body(source, field)
    context = customer_context(customer) if customer else {}
    text = render(source, context, html=False).strip()
    return {"body": text, "template_id": template_pk, "field": field}


#: A number that texted us within this many hours may get a one-to-one reply without a
#: recorded opt-in (CTIA's conversational messaging); an opt-out still wins.
CONVERSATION_HOURS = 24


def conversational(numbers: set[str]) -> set[str]:
    """Those of ``numbers`` that sent us a text in the last CONVERSATION_HOURS."""
    if not numbers:
        return set()
    since = utcnow() - timedelta(hours=CONVERSATION_HOURS)
    return set(
        db.session.scalars(
            select(SmsMessage.from_address).where(
                SmsMessage.direction == "inbound",
                SmsMessage.from_address.in_(numbers),
                SmsMessage.created_at >= since,
            )
        )
    )


def queue_message(
    *,
    customer: Customer | None,
    to: str,
    body: str,
    user: User,
    media_urls: list[str] | None = None,
    template_id: int | None = None,
    conversation: SmsConversation | None = None,
    field: str = "body",
) -> SmsMessage:
    """Validate, check consent, write the outbox row and send it (inline or by job)."""
    media = list(media_urls or [])
    if not body and not media:
        raise invalid({field: "the message is empty"})
    segments, encoding = check_body(body, field) if body else (0, None)
    consent.check("sms", to, implied=conversational({to}))
    conversation = conversation or conversation_for(customer.id if customer else None, to)
    message = SmsMessage(
        conversation_id=conversation.id,
        customer_id=customer.id if customer else None,
        user_id=getattr(user, "id", None),
        template_id=template_id,
        direction="outbound",
        to_address=to,
        body=body,
        media_urls=media,
        segments=segments,
        encoding=encoding,
        status="queued",
    )
    db.session.add(message)
    conversation.last_message_at = utcnow()
    db.session.commit()
    message_id = message.id
    delivery.enqueue_single("sms", message_id)
    db.session.expire_all()
    return db.session.get_one(SmsMessage, message_id)


def send_to_customer(
    user: User,
    *,
    customer_id: str,
    to: str | None,
    body: str | None,
    template_id: str | None,
    media_urls: list[str] | None = None,
) -> SmsMessage:
    """A rep's text to one customer (POST /sms/send): only to the customer's own number
    (``to`` may repeat it or be left out), with consent checked on that number."""
    customer = get_visible_customer(customer_id, user)
    if customer is None:
        raise unknown("customer", field="customerId")
    number = consent.recipient_address("sms", customer, normalise_phone(to, "to") if to else None)
    composed = compose(customer, body, template_id)
    return queue_message(
        customer=customer,
        to=number,
        body=composed["body"],
        user=user,
        media_urls=media_urls,
        template_id=composed["template_id"],
        field=composed["field"],
    )


def reply(user: User, conversation: SmsConversation, body: str) -> SmsMessage:
    """A reply in a thread (inbox or customer page)."""
    customer = customer_for(conversation)
    mark_read(conversation)
    text = (body or "").strip()
    if text:
        text = compose(customer, text, None)["body"]
    return queue_message(
        customer=customer,
        to=conversation.phone,
        body=text,
        user=user,
        conversation=conversation,
    )


# --- inbound -------------------------------------------------------------------------


def e164(raw: str | None) -> str:
    """Best-effort E.164 for an inbound number (short codes and odd senders kept as is)."""
    raw = (raw or "").strip()
    try:
        number = phonenumbers.parse(raw, current_app.config.get("DEFAULT_PHONE_REGION", "US"))
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _media(data: dict[str, Any]) -> list[str]:
    try:
        count = min(int(data.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    return [data[f"MediaUrl{i}"] for i in range(count) if data.get(f"MediaUrl{i}")]


def receive(data: dict[str, Any], event_id: int | None = None) -> str | None:
    """File an inbound text, apply consent keywords; returns the reply text, if any."""
    phone = e164(data.get("From"))
    body = data.get("Body") or ""
    meaning = keywords.match(body, data.get("OptOutType"))
    customer = db.session.scalar(
        select(Customer).where(Customer.phone == phone).order_by(Customer.id)
    )
    conversation = conversation_for(customer.id if customer else None, phone)
    now = utcnow()
    message = SmsMessage(
        conversation_id=conversation.id,
        customer_id=customer.id if customer else None,
        direction="inbound",
        status="received",
        delivery_status="received",
        provider="twilio",
        provider_message_id=data.get("MessageSid"),
        to_address=(data.get("To") or "")[:20],
        from_address=phone[:40],
        body=body,
        media_urls=_media(data),
        segments=segment_info(body).segments,
        encoding=segment_info(body).encoding,
        review="pending" if meaning.review else None,
        created_at=now,
    )
    db.session.add(message)
    conversation.unread_count = (conversation.unread_count or 0) + 1
    conversation.last_message_at = now
    if customer is not None:
        activity = log_activity(
            customer.id, "SMS", body=body, direction="received", occurred_at=now, commit=False
        )
        db.session.flush()
        message.activity_id = activity.id
        if meaning.kind is None and not meaning.review:
            _mark_answered(customer.id, now)
    db.session.commit()

    answer = _keyword_reply(meaning, phone, customer, body)
    if answer and answer == _away_message() and _away_sent_lately(conversation, answer):
        answer = None  # one away message per conversation per SMS_AWAY_MESSAGE_HOURS
    is_help = meaning.kind == "help"
    if answer and (is_help or not consent.is_suppressed("sms", phone)):
        _record_reply(conversation, customer, phone, data.get("To"), answer)
    else:
        answer = None
    inbound_sms.send(
        app_object(),
        event_id=event_id,
        data=data,
        message_id=message.public_id,
        customer_id=message.customer_id,
    )
    return answer


#: how far back a reply looks for the text it answers (as for attribution)
ANSWERS_WITHIN = timedelta(days=7)


def _mark_answered(customer_id: int, now: Any) -> None:
    """A reply (no keyword, nothing that may be an opt-out) answers the latest text sent
    to the customer within :data:`ANSWERS_WITHIN`: a campaign text records its first reply
    (an SMS A/B test's reply rate)."""
    m = SmsMessage
    latest = db.session.execute(
        select(m.id, m.campaign_id, m.replied_at)
        .where(
            m.customer_id == customer_id,
            m.direction == "outbound",
            m.sent_at.is_not(None),
            m.sent_at >= now - ANSWERS_WITHIN,
        )
        .order_by(m.sent_at.desc(), m.id.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.campaign_id is not None and latest.replied_at is None:
        db.session.execute(update(m).where(m.id == latest.id).values(replied_at=now))


def _keyword_reply(
    meaning: keywords.Match, phone: str, customer: Customer | None, body: str
) -> str | None:
    kind = meaning.kind
    customer_id = customer.id if customer else None
    if kind == "opt_out":
        consent.opt_out(
            "sms",
            phone,
            reason="STOP",
            source=f"sms:{meaning.keyword or 'STOP'}"[:40],
            customer_id=customer_id,
            detail=body[:300] or None,
        )
        return None  # Twilio confirms opt-outs itself
    if kind == "opt_in":
        consent.opt_in(
            "sms",
            phone,
            source=f"sms:{meaning.keyword or 'START'}"[:40],
            customer_id=customer_id,
        )
        return None
    if kind == "help":
        return settings.get("SMS_HELP_REPLY") or None
    word = keywords.normalise(body)
    replies = settings.auto_replies()
    if word and word in replies:
        return replies[word]
    if settings.outside_business_hours(utcnow()):
        return _away_message()
    return None


def _away_message() -> str | None:
    return settings.get("SMS_AWAY_MESSAGE") or None


def _away_sent_lately(conversation: SmsConversation, text: str) -> bool:
    """Whether this conversation got the away message within SMS_AWAY_MESSAGE_HOURS (a
    customer texting five times one evening gets it once)."""
    hours = float(settings.get("SMS_AWAY_MESSAGE_HOURS") or 0)
    if hours <= 0:
        return False
    since = utcnow() - timedelta(hours=hours)
    return (
        db.session.scalar(
            select(SmsMessage.id)
            .where(
                SmsMessage.conversation_id == conversation.id,
                SmsMessage.provider == "twiml",
                SmsMessage.body == text,
                SmsMessage.sent_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def _record_reply(
    conversation: SmsConversation,
    customer: Customer | None,
    phone: str,
    our_number: str | None,
    text: str,
) -> None:
    """An automatic reply goes back in the TwiML answer; keep it in the thread too."""
    info = segment_info(text)
    now = utcnow()
    db.session.add(
        SmsMessage(
            conversation_id=conversation.id,
            customer_id=customer.id if customer else None,
            direction="outbound",
            status="sent",
            provider="twiml",
            to_address=phone,
            from_address=(our_number or "")[:40] or None,
            body=text,
            segments=info.segments,
            encoding=info.encoding,
            sent_at=now,
            created_at=now,
            public_id=new_public_id("sms"),
        )
    )
    if customer is not None:
        log_activity(
            customer.id, "SMS", body=text, direction="sent", notes="auto-reply", commit=False
        )
    db.session.commit()


# --- delivery receipts -------------------------------------------------------------


def status_update(data: dict[str, Any]) -> bool:
    """Apply a Twilio status callback; False when no message has that sid."""
    sid = data.get("MessageSid") or data.get("SmsSid")
    message = db.session.scalar(
        select(SmsMessage).where(
            SmsMessage.provider_message_id == sid, SmsMessage.direction == "outbound"
        )
    )
    if message is None:
        return False
    status = (data.get("MessageStatus") or data.get("SmsStatus") or "").lower()
    error_code = data.get("ErrorCode") or None
    current = STATUS_RANK.get(message.delivery_status or "", -1)
    applies = STATUS_RANK.get(status, 0) >= current
    if applies:
        message.delivery_status = status[:16]
    if status == "delivered":
        message.delivered_at = utcnow()
    if error_code:
        message.error_code = str(error_code)[:40]
        message.error_message = f"Twilio {status}: error {error_code}"
    if applies and status in UNDELIVERED:  # the carrier never took it: not "sent" after all
        message.status = "failed"
        message.error_code = message.error_code or status
        message.error_message = message.error_message or f"Twilio {status}"
    if message.activity_id:
        activity = db.session.get(Activity, message.activity_id)
        if activity is not None:
            note = f"{status}" + (f" (error {error_code})" if error_code else "")
            activity.notes = f"{activity.notes}; {note}" if activity.notes else note
    db.session.commit()
    if str(error_code) == "21610":
        consent.opt_out(
            "sms",
            message.to_address,
            reason="STOP",
            source="twilio:21610",
            customer_id=message.customer_id,
        )
    message_event.send(
        app_object(),
        channel="sms",
        message_id=message.public_id,
        event=status,
        data={**data, "customerId": message.customer_id},
    )
    return True


def on_webhook(sender: Any, provider: str, event_id: int, kind: str, data: dict, **_: Any):
    """``webhook_received`` receiver: Twilio inbound texts and status callbacks."""
    if provider != "twilio":
        return None
    if kind == "status":
        status_update(data)
        return None
    if kind == "inbound":
        return {"twiml_reply": receive(data, event_id)}
    return None


# --- JSON ----------------------------------------------------------------------------


def message_json(m: SmsMessage) -> dict[str, Any]:
    conversation = db.session.get(SmsConversation, m.conversation_id) if m.conversation_id else None
    customer = db.session.get(Customer, m.customer_id) if m.customer_id else None
    return {
        "id": m.public_id,
        "conversationId": conversation.public_id if conversation else None,
        "customerId": customer.public_id if customer else None,
        "direction": m.direction,
        "to": m.to_address,
        "from": m.from_address,
        "body": m.body,
        "mediaUrls": list(m.media_urls or []),
        "status": m.status,
        "deliveryStatus": m.delivery_status,
        "segments": m.segments,
        "encoding": m.encoding,
        "errorCode": m.error_code,
        "errorMessage": m.error_message,
        "providerMessageId": m.provider_message_id,
        "review": m.review,
        "createdAt": m.created_at.isoformat() if m.created_at else None,
        "sentAt": m.sent_at.isoformat() if m.sent_at else None,
        "deliveredAt": m.delivered_at.isoformat() if m.delivered_at else None,
    }


def conversation_json(c: SmsConversation, messages: list[SmsMessage] | None = None) -> dict:
    customer = db.session.get(Customer, c.customer_id) if c.customer_id else None
    doc: dict[str, Any] = {
        "id": c.public_id,
        "phone": c.phone,
        "customerId": customer.public_id if customer else None,
        "customerName": customer.name if customer else (c.contact_name or None),
        "unreadCount": c.unread_count or 0,
        "needsReview": _needs_review(c),
        "lastMessageAt": c.last_message_at.isoformat() if c.last_message_at else None,
    }
    if messages is not None:
        doc["messages"] = [message_json(m) for m in messages]
    return doc


def _needs_review(c: SmsConversation) -> bool:
    """Whether a text in this thread awaits a person's opt-out decision."""
    return (
        db.session.scalar(
            select(SmsMessage.id)
            .where(SmsMessage.conversation_id == c.id, SmsMessage.review == "pending")
            .limit(1)
        )
        is not None
    )
