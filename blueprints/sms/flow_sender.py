"""The SMS channel's side of a flow's send step (app/flows/senders.py): for a set of
(customer, run) pairs, each text rendered from the template (segments checked), the
customers' conversations found or created in bulk (one thread per customer and number,
as :func:`~blueprints.sms.services.conversation_for`), and the texts inserted by one
executemany, each marked with its flow run (so consent and quiet hours apply as to a
campaign's text), its web links carrying UTM parameters that name the flow; not
committed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.crm.models import Customer
from app.extensions import db
from app.flows.models import Flow, FlowRun
from app.flows.senders import FlowSender, Queued, register
from app.ids import new_public_ids
from app.messaging.contexts import customer_contexts
from app.messaging.rendering import render
from app.models_base import utcnow
from app.sets import among
from blueprints.sms import settings
from blueprints.sms.links import tag_text
from blueprints.sms.models import SmsConversation, SmsMessage
from providers.sms import segment_info

MESSAGES = SmsMessage.__table__
CONVERSATIONS = SmsConversation.__table__


def _customers(ids: list[int]) -> dict[int, Any]:
    """Phone and rep of the customers with a phone, from one query."""
    query = select(Customer.id, Customer.phone, Customer.rep_id).where(
        among(Customer.id, ids), Customer.phone.is_not(None), Customer.phone != ""
    )
    return {row[0]: row for row in db.session.execute(query)}


def _conversations(customers: dict[int, Any]) -> dict[int, int]:
    """Each customer's conversation id for their number: the first found, else one
    created (a conflict, another process creating it, is read back)."""

    def found() -> dict[int, int]:
        threads: dict[int, int] = {}
        for conversation_id, customer_id, phone in db.session.execute(
            select(CONVERSATIONS.c.id, CONVERSATIONS.c.customer_id, CONVERSATIONS.c.phone)
            .where(among(CONVERSATIONS.c.customer_id, customers))
            .order_by(CONVERSATIONS.c.id)
        ):
            if phone == customers[customer_id].phone:
                threads.setdefault(customer_id, conversation_id)
        return threads

    threads = found()
    missing = [c for c in customers if c not in threads]
    if missing:
        dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        now = utcnow()
        db.session.execute(
            dialect.insert(CONVERSATIONS).on_conflict_do_nothing(),
            [
                {
                    "public_id": public_id,
                    "customer_id": c,
                    "phone": customers[c].phone,
                    "unread_count": 0,
                    "assigned_to_id": customers[c].rep_id,
                    "created_at": now,
                }
                for public_id, c in zip(
                    new_public_ids(SmsConversation.id_prefix, len(missing)), missing, strict=True
                )
            ],
        )
        threads = found()
    return threads


def queue_many(template: Any, pairs: Sequence[tuple[int, int]]) -> Queued:
    customers = _customers(sorted({c for c, _r in pairs}))
    if not customers:
        return {}
    contexts = customer_contexts(list(customers))
    most = int(settings.get("SMS_MAX_SEGMENTS"))
    flow_ref = db.session.scalar(  # one flow's step: every pair's run is of the same flow
        select(Flow.public_id)
        .join(FlowRun, FlowRun.flow_id == Flow.id)
        .where(FlowRun.id == pairs[0][1])
    )
    queued: Queued = {}
    texts: list[tuple[int, int, str, Any]] = []
    for customer_id, run_id in pairs:
        row = customers.get(customer_id)
        if row is None:
            continue
        body = render(template.body or "", contexts[customer_id], html=False).strip()
        if flow_ref:
            body = tag_text(body, flow_ref)
        info = segment_info(body)
        if not body or info.segments > most:
            queued[run_id] = f"the text is {info.segments} segments"
            continue
        texts.append((customer_id, run_id, body, info))
    if not texts:
        return queued
    threads = _conversations({c: customers[c] for c, _r, _b, _i in texts})
    now = utcnow()
    rows = [
        {
            "public_id": public_id,
            "conversation_id": threads[customer_id],
            "customer_id": customer_id,
            "template_id": template.id,
            "direction": "outbound",
            "to_address": customers[customer_id].phone,
            "body": body,
            "media_urls": [],
            "segments": info.segments,
            "encoding": info.encoding,
            "status": "queued",
            "attempts": 0,
            "flow_run_id": run_id,
            "created_at": now,
            "updated_at": now,
        }
        for public_id, (customer_id, run_id, body, info) in zip(
            new_public_ids(SmsMessage.id_prefix, len(texts)), texts, strict=True
        )
    ]
    for message_id, run_id in db.session.execute(
        insert(MESSAGES).returning(MESSAGES.c.id, MESSAGES.c.flow_run_id), rows
    ):
        queued[run_id] = message_id
    db.session.execute(
        update(CONVERSATIONS)
        .where(among(CONVERSATIONS.c.id, sorted(set(threads.values()))))
        .values(last_message_at=now)
    )
    return queued


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="sms", queue_many=queue_many))
