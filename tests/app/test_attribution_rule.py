"""The attribution statement writes what the rule says, on random books: every human touch
of the account in its kind's window before the end of the order's day, the latest one
attributed (at the same moment the higher-ranked kind, then the greater message id), an
order whose UTM names a campaign credited to it first, cancelled and returned orders
nothing. Checked against a plain reading of the rule over touches on whole hours (ties,
touches exactly on a window's edge), a fractional window (SMS replies: half a day) and a
reply answering the latest text within seven days."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.attribution.engine import attribute_customers
from app.attribution.models import OrderTouch
from app.crm.models import Order
from app.extensions import db
from app.messaging.models import Campaign
from blueprints.email.models import EmailEvent, EmailMessage
from blueprints.sms.models import SmsMessage

START = datetime(2026, 11, 1, tzinfo=UTC)
WINDOWS = {"email_click": 5.0, "email_open": 1.0, "sms_reply": 0.5}
RANK = {"email_click": 2, "email_open": 1, "sms_reply": 3}


@dataclass
class Touch:
    kind: str
    ref: str
    campaign_id: int | None
    at: datetime


def _hour(rnd: random.Random) -> datetime:
    """A moment on a six-hour grid: touches often share one (ties) or sit on a window's
    edge (midnight)."""
    return START + timedelta(hours=6 * rnd.randint(0, 4 * 12))


def _book(rnd: random.Random, customer: Any, book: int, campaigns: list[Campaign]) -> list[Touch]:
    """Messages, events, texts and replies of one customer; the human touches written."""
    email_campaigns = [c for c in campaigns if c.channel == "email"]
    touches: list[Touch] = []
    for n in range(rnd.randint(0, 4)):
        campaign = rnd.choice([*email_campaigns, None])
        message = EmailMessage(
            public_id=f"eml_b{book:02d}m{n:02d}",
            customer_id=customer.id,
            campaign_id=campaign.id if campaign else None,
            to_address=customer.email,
            subject="Specials",
            status="sent",
            sent_at=START - timedelta(days=1),
        )
        db.session.add(message)
        db.session.flush()
        for _ in range(rnd.randint(0, 3)):
            kind, at, machine = rnd.choice(("click", "open")), _hour(rnd), rnd.random() < 0.2
            db.session.add(
                EmailEvent(
                    message_id=message.id,
                    campaign_id=message.campaign_id,
                    type=kind,
                    occurred_at=at,
                    machine=machine,
                    machine_reason="burst" if machine else None,
                )
            )
            if not machine:
                touches.append(Touch(f"email_{kind}", message.public_id, message.campaign_id, at))
    texts = [c for c in campaigns if c.channel == "sms"]
    sent = []
    for n in range(rnd.randint(0, 3)):
        campaign = rnd.choice([*texts, None])
        text = SmsMessage(
            public_id=f"sms_b{book:02d}t{n:02d}",
            customer_id=customer.id,
            campaign_id=campaign.id if campaign else None,
            direction="outbound",
            to_address="+12125550101",
            body="Allocation open",
            status="sent",
            created_at=_hour(rnd) - timedelta(days=rnd.choice((0, 3, 8))),
        )
        db.session.add(text)
        sent.append(text)
    db.session.flush()
    for n in range(rnd.randint(0, 3)):
        at = _hour(rnd)
        reply = SmsMessage(
            public_id=f"sms_b{book:02d}r{n:02d}",
            customer_id=customer.id,
            direction="inbound",
            to_address="+15550000000",
            from_address="+12125550101",
            body="Six please",
            status="received",
            created_at=at,
        )
        db.session.add(reply)
        earlier = [t for t in sent if t.created_at < at and at - t.created_at <= timedelta(days=7)]
        answered = max(earlier, key=lambda t: (t.created_at, t.id), default=None)
        if answered is None:
            touches.append(Touch("sms_reply", reply.public_id, None, at))
        else:
            touches.append(Touch("sms_reply", answered.public_id, answered.campaign_id, at))
    return touches


def _orders(rnd: random.Random, customer: Any, campaigns: list[Campaign]) -> list[Order]:
    orders = []
    for _ in range(rnd.randint(1, 5)):
        order = Order(
            customer_id=customer.id,
            order_date=START.date() + timedelta(days=rnd.randint(0, 13)),
            status=rnd.choice(("delivered", "delivered", "delivered", "cancelled", "returned")),
            total=Decimal(rnd.randint(20, 500)),
            utm_campaign=rnd.choice(
                (None, None, None, "", "cmp_unknown", rnd.choice(campaigns).public_id)
            ),
        )
        db.session.add(order)
        orders.append(order)
    db.session.flush()
    return orders


def _rule(orders: list[Order], touches: list[Touch], campaigns: list[Campaign]) -> Counter:
    """The rows the rule asks for, read plainly: every touch against every order."""
    named = {c.public_id: c for c in campaigns}
    rows: Counter = Counter()
    for order in orders:
        if order.status in ("cancelled", "returned"):
            continue
        end = datetime.combine(order.order_date, time.min, tzinfo=UTC) + timedelta(days=1)
        inside = [t for t in touches if end - timedelta(days=WINDOWS[t.kind]) <= t.at < end]
        utm = named.get(order.utm_campaign or "")
        last = max(inside, key=lambda t: (t.at, RANK[t.kind], t.ref), default=None)
        for t in inside:
            role = "attributed" if t is last and utm is None else "influenced"
            rows[(order.id, t.kind, t.ref, t.campaign_id, t.at, role, order.order_date)] += 1
        if utm is not None:
            day = end - timedelta(days=1)
            rows[(order.id, "utm", "", utm.id, day, "attributed", order.order_date)] += 1
    return rows


def _rows(customer_id: int) -> list[OrderTouch]:
    return list(db.session.scalars(select(OrderTouch).where(OrderTouch.customer_id == customer_id)))


def _written(customer_id: int) -> Counter:
    return Counter(
        (r.order_id, r.kind, r.message_ref, r.campaign_id, r.touched_at, r.role, r.order_date)
        for r in _rows(customer_id)
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_statement_credits_what_the_rule_says(app, make_customer, seed):
    app.config["ATTRIBUTION_SMS_REPLY_DAYS"] = WINDOWS["sms_reply"]
    rnd = random.Random(seed)
    campaigns = [
        Campaign(public_id=f"cmp_rule{seed}{n}", channel=channel, name=f"C{n}", status="sent")
        for n, channel in enumerate(("email", "email", "email", "sms"))
    ]
    db.session.add_all(campaigns)
    db.session.flush()
    for book in range(4):
        customer = make_customer("North")
        touches = _book(rnd, customer, seed * 10 + book, campaigns)
        orders = _orders(rnd, customer, campaigns)
        db.session.commit()
        written = attribute_customers([customer.id])
        expected = _rule(orders, touches, campaigns)
        assert _written(customer.id) == expected
        assert written == sum(expected.values())
        totals = {o.id: o.total for o in orders}
        for row in _rows(customer.id):
            assert row.total == totals[row.order_id]  # the order's total, copied


def test_a_touch_on_the_window_edge_counts_and_the_end_of_the_day_does_not(app, make_customer):
    """A click exactly five days before the end of the order's day counts; one at the very
    end of the day (midnight after) does not; at the same moment a click beats an open."""
    customer = make_customer("North")
    campaign = Campaign(channel="email", name="Edge", status="sent")
    db.session.add(campaign)
    db.session.flush()
    day = date(2026, 11, 10)
    end = datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)
    refs = {}
    for name, kind, at in (
        ("edge", "click", end - timedelta(days=5)),
        ("late", "click", end),
        ("open", "open", end - timedelta(hours=1)),
        ("click", "click", end - timedelta(hours=1)),
    ):
        message = EmailMessage(
            customer_id=customer.id, campaign_id=campaign.id, to_address=customer.email,
            subject="s", status="sent", sent_at=end - timedelta(days=9),
        )  # fmt: skip
        db.session.add(message)
        db.session.flush()
        db.session.add(EmailEvent(message_id=message.id, type=kind, occurred_at=at))
        refs[name] = message.public_id
    order = Order(customer_id=customer.id, order_date=day, status="delivered", total=Decimal(90))
    db.session.add(order)
    db.session.commit()
    attribute_customers([customer.id])
    rows = {r.message_ref: r.role for r in _rows(customer.id)}
    assert rows == {refs["edge"]: "influenced", refs["open"]: "influenced",
                    refs["click"]: "attributed"}  # fmt: skip


def test_clicks_at_the_same_moment_credit_the_greater_message_id(app, make_customer):
    customer = make_customer("North")
    day = date(2026, 11, 10)
    at = datetime.combine(day, time(9), tzinfo=UTC)
    for ref in ("eml_tie000000000b", "eml_tie000000000c", "eml_tie000000000a"):
        message = EmailMessage(
            public_id=ref, customer_id=customer.id, to_address=customer.email, subject="s",
            status="sent", sent_at=at - timedelta(days=1),
        )  # fmt: skip
        db.session.add(message)
        db.session.flush()
        db.session.add(EmailEvent(message_id=message.id, type="click", occurred_at=at))
    db.session.add(
        Order(customer_id=customer.id, order_date=day, status="delivered", total=Decimal(5))
    )
    db.session.commit()
    attribute_customers([customer.id])
    roles = {r.message_ref: r.role for r in _rows(customer.id)}
    assert roles == {"eml_tie000000000c": "attributed", "eml_tie000000000b": "influenced",
                     "eml_tie000000000a": "influenced"}  # fmt: skip
