"""The SMS channel's side of a flow's send step (app/flows/senders.py): for a set of
(customer, run) pairs, each text rendered from the template (segments checked), its
conversation found or created (per customer: a conversation is the channel's own thread
object), and the texts added in one flush, each marked with its flow run (so consent and
quiet hours apply as to a campaign's text); not committed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.crm.models import Customer
from app.extensions import db
from app.flows.senders import FlowSender, Queued, register
from app.messaging.rendering import customer_context, render
from app.models_base import utcnow
from blueprints.sms import settings
from blueprints.sms.models import SmsMessage
from blueprints.sms.services import conversation_for
from providers.sms import segment_info


def queue_many(template: Any, pairs: Sequence[tuple[int, int]]) -> Queued:
    customers = {
        c.id: c
        for c in db.session.scalars(
            select(Customer).where(
                Customer.id.in_([c for c, _r in pairs]),
                Customer.phone.is_not(None),
                Customer.phone != "",
            )
        )
    }
    most = int(settings.get("SMS_MAX_SEGMENTS"))
    now = utcnow()
    queued: Queued = {}
    made: list[tuple[int, SmsMessage]] = []
    for customer_id, run_id in pairs:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        body = render(template.body or "", customer_context(customer), html=False).strip()
        info = segment_info(body)
        if not body or info.segments > most:
            queued[run_id] = f"the text is {info.segments} segments"
            continue
        conversation = conversation_for(customer.id, customer.phone)
        message = SmsMessage(
            conversation_id=conversation.id,
            customer_id=customer.id,
            template_id=template.id,
            direction="outbound",
            to_address=customer.phone,
            body=body,
            media_urls=[],
            segments=info.segments,
            encoding=info.encoding,
            status="queued",
            flow_run_id=run_id,
        )
        db.session.add(message)
        conversation.last_message_at = now
        made.append((run_id, message))
    db.session.flush()
    for run_id, message in made:
        queued[run_id] = message.id
    return queued


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="sms", queue_many=queue_many))
