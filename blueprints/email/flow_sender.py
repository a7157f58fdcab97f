"""The email channel's side of a flow's send step (app/flows/senders.py): the customer's
message rendered from the template, marked with its flow run, flushed for the flow engine
to commit with the step's record."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.errors import Invalid
from app.extensions import db
from app.flows.senders import FlowSender, register
from app.messaging import rendering
from blueprints.email import links, sending
from blueprints.email.models import EmailMessage


def queue(customer: Any, template: Any, run_id: int) -> int | None:
    if not customer.email:
        return None
    message = EmailMessage(
        customer_id=customer.id,
        template_id=template.id,
        to_address=customer.email,
        flow_run_id=run_id,
        status="queued",
    )
    db.session.add(message)
    db.session.flush()
    try:
        rendered = sending.render_for(
            message,
            template.subject or "",
            template.html or "",
            rendering.customer_context(customer),
        )
    except Exception as exc:  # noqa: BLE001 - a template that cannot render skips the step
        raise Invalid("cannot render", {"templateId": f"cannot render: {exc}"}) from exc
    message.subject, message.html, message.text = rendered.subject, rendered.html, rendered.text
    links.store_message_links({message.id: rendered.links})
    db.session.flush()
    return message.id


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="email", queue=queue))
