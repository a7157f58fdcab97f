"""The SMS channel's touches for order attribution: a customer's reply.

A reply is credited to the text it answered: the latest outbound text to that customer
before it (and that text's campaign), or to the reply itself when none was sent. Its
address is the number that replied (engagement scores each number apart)."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from app.attribution.touches import Touch, TouchSource, register
from app.extensions import db
from blueprints.sms.models import SmsMessage

#: how far back a reply looks for the text it answers
ANSWERS_WITHIN = timedelta(days=7)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replies(customer_ids: Collection[int], since: datetime, until: datetime) -> list[Touch]:
    m = SmsMessage
    inbound = db.session.execute(
        select(m.customer_id, m.public_id, m.created_at, m.from_address).where(
            m.customer_id.in_(customer_ids),
            m.direction == "inbound",
            m.created_at >= since,
            m.created_at < until,
        )
    ).all()
    if not inbound:
        return []
    sent = db.session.execute(
        select(m.customer_id, m.public_id, m.campaign_id, m.created_at)
        .where(
            m.customer_id.in_({row.customer_id for row in inbound}),
            m.direction == "outbound",
            m.created_at >= since - ANSWERS_WITHIN,
            m.created_at < until,
        )
        .order_by(m.created_at)
    ).all()
    by_customer: dict[int, list[tuple[datetime, str, int | None]]] = defaultdict(list)
    for customer_id, public_id, campaign_id, created_at in sent:
        if customer_id is not None:
            by_customer[customer_id].append((_aware(created_at), public_id, campaign_id))
    touches: list[Touch] = []
    for row in inbound:
        at = _aware(row.created_at)
        earlier = by_customer.get(row.customer_id, [])
        index = bisect_left([when for when, _, _ in earlier], at) - 1
        if index >= 0 and at - earlier[index][0] <= ANSWERS_WITHIN:
            _, ref, campaign = earlier[index]
            touches.append(Touch(row.customer_id, campaign, ref, at, row.from_address or ""))
        else:
            touches.append(Touch(row.customer_id, None, row.public_id, at, row.from_address or ""))
    return touches


def register_touches(app: Flask) -> None:
    register(app, TouchSource("sms_reply", "sms", 5, replies, rank=3))
