"""The SMS channel's side of a flow's send step (app/flows/senders.py): the customer's
text rendered from the template, its web links carrying UTM parameters that name the
flow, marked with its flow run (so consent and quiet hours apply as to a campaign's
text), flushed for the flow engine to commit."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.errors import Invalid
from app.extensions import db
from app.flows.models import Flow, FlowRun
from app.flows.senders import FlowSender, register
from app.messaging.rendering import customer_context, render
from app.models_base import utcnow
from blueprints.sms import settings
from blueprints.sms.links import tag_text
from blueprints.sms.models import SmsMessage
from blueprints.sms.services import conversation_for
from providers.sms import segment_info


def queue(customer: Any, template: Any, run_id: int) -> int | None:
    if not customer.phone:
        return None
    body = render(template.body or "", customer_context(customer), html=False).strip()
    flow_ref = db.session.scalar(
        select(Flow.public_id).join(FlowRun, FlowRun.flow_id == Flow.id).where(FlowRun.id == run_id)
    )
    if flow_ref:
        body = tag_text(body, flow_ref)
    info = segment_info(body)
    if not body or info.segments > int(settings.get("SMS_MAX_SEGMENTS")):
        raise Invalid("too long", {"templateId": f"the text is {info.segments} segments"})
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
    conversation.last_message_at = utcnow()
    db.session.flush()
    return message.id


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="sms", queue=queue))
