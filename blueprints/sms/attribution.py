"""The SMS channel's touches for order attribution: a customer's reply.

A reply is credited to the text it answered: the latest outbound text to that customer
before it (and that text's campaign), or to the reply itself when none was sent. Its
address is the number that replied (engagement scores each number apart)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.attribution.touches import CustomerIds, TouchRows, TouchSource, customer_in, register
from app.moments import moment_plus
from blueprints.sms.models import SmsMessage

#: how far back a reply looks for the text it answers
ANSWERS_WITHIN = timedelta(days=7)


def replies(customer_ids: CustomerIds, since: datetime | None, until: datetime | None) -> TouchRows:
    """The customers' replies in [since, until), each with the text it answered: one
    query, the answered text found per reply by a correlated lookup (the customer's
    latest outbound text before the reply and no more than :data:`ANSWERS_WITHIN`
    before it; the latest id among texts sent at the same moment)."""
    reply, sent, answered = aliased(SmsMessage), aliased(SmsMessage), aliased(SmsMessage)
    answered_id = (
        select(sent.id)
        .where(
            sent.customer_id == reply.customer_id,
            sent.direction == "outbound",
            sent.created_at < reply.created_at,
            sent.created_at >= moment_plus(reply.created_at, -int(ANSWERS_WITHIN.total_seconds())),
        )
        .order_by(sent.created_at.desc(), sent.id.desc())
        .limit(1)
        .correlate(reply)
        .scalar_subquery()
    )
    stmt: TouchRows = (
        select(
            reply.customer_id,
            answered.campaign_id,
            func.coalesce(answered.public_id, reply.public_id).label("message_ref"),
            reply.created_at.label("touched_at"),
            reply.from_address.label("address"),
        )
        .outerjoin(answered, answered.id == answered_id)
        .where(customer_in(reply.customer_id, customer_ids), reply.direction == "inbound")
    )
    if since is not None:
        stmt = stmt.where(reply.created_at >= since)
    if until is not None:
        stmt = stmt.where(reply.created_at < until)
    return stmt


def register_touches(app: Flask) -> None:
    register(app, TouchSource("sms_reply", "sms", 5, replies, rank=3))
