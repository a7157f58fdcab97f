"""Crediting a customer again writes only what changed: a row the rule still gives is
kept (id and all), a row it no longer gives is deleted, a new one inserted; identical
rows (several events of one message at one moment) are counted, not collapsed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.attribution.engine import attribute_customers
from app.attribution.models import OrderTouch
from app.crm.models import Order
from app.extensions import db
from app.messaging.models import Campaign
from blueprints.email.models import EmailEvent, EmailMessage

DAY = date(2026, 11, 10)
NOON = datetime.combine(DAY, time(12), tzinfo=UTC)


def _message(customer: Any, campaign: Campaign, ref: str) -> EmailMessage:
    message = EmailMessage(
        public_id=ref, customer_id=customer.id, campaign_id=campaign.id,
        to_address=customer.email, subject="s", status="sent", sent_at=NOON - timedelta(days=9),
    )  # fmt: skip
    db.session.add(message)
    db.session.flush()
    return message


def _event(message: EmailMessage, kind: str, at: datetime) -> None:
    db.session.add(
        EmailEvent(
            message_id=message.id, campaign_id=message.campaign_id, type=kind, occurred_at=at
        )
    )


def _order(customer: Any, day: date, total: int) -> Order:
    order = Order(customer_id=customer.id, order_date=day, status="delivered", total=Decimal(total))
    db.session.add(order)
    db.session.flush()
    return order


def _rows(customer_id: int) -> dict[int, tuple[Any, ...]]:
    """id -> (order, message, kind, role, total) of the customer's order touches."""
    return {
        r.id: (r.order_id, r.message_ref, r.kind, r.role, r.total)
        for r in db.session.scalars(select(OrderTouch).where(OrderTouch.customer_id == customer_id))
    }


def _campaign() -> Campaign:
    campaign = Campaign(channel="email", name="Specials", status="sent")
    db.session.add(campaign)
    db.session.flush()
    return campaign


def test_a_second_run_keeps_every_row_and_a_change_rewrites_only_its_order(app, make_customer):
    customer, other = make_customer("North"), make_customer("North")
    campaign = _campaign()
    early = _message(customer, campaign, "eml_keep0000001")
    _event(early, "click", NOON - timedelta(days=2))
    kept_order = _order(customer, DAY, 90)
    changed_order = _order(customer, DAY - timedelta(days=1), 40)
    _event(_message(other, campaign, "eml_other000001"), "click", NOON - timedelta(days=1))
    _order(other, DAY, 10)
    db.session.commit()
    attribute_customers([customer.id])
    attribute_customers([other.id])  # its rows take the next ids
    before = _rows(customer.id)
    assert sorted(before.values()) == [
        (kept_order.id, "eml_keep0000001", "email_click", "attributed", Decimal(90)),
        (changed_order.id, "eml_keep0000001", "email_click", "attributed", Decimal(40)),
    ]

    assert attribute_customers([customer.id]) == 2
    assert _rows(customer.id) == before  # nothing changed: the same rows, the same ids

    # the ERP corrects one order's total and a later click credits the other order
    changed_order.total = Decimal(45)
    late = _message(customer, campaign, "eml_late0000001")
    _event(late, "click", NOON - timedelta(hours=1))
    db.session.commit()
    assert attribute_customers([customer.id]) == 3
    after = _rows(customer.id)
    kept_id = next(i for i, row in before.items() if row[0] == kept_order.id)
    changed_id = next(i for i, row in before.items() if row[0] == changed_order.id)
    assert changed_id not in after  # its total changed: replaced
    assert kept_id not in after  # its role changed (now influenced): replaced
    assert sorted(after.values()) == [
        (kept_order.id, "eml_keep0000001", "email_click", "influenced", Decimal(90)),
        (kept_order.id, "eml_late0000001", "email_click", "attributed", Decimal(90)),
        (changed_order.id, "eml_keep0000001", "email_click", "attributed", Decimal(45)),
    ]
    # the other customer's rows were never touched
    assert len(_rows(other.id)) == 1


def test_a_new_order_adds_its_rows_and_keeps_the_others(app, make_customer):
    customer, other = make_customer("North"), make_customer("North")
    campaign = _campaign()
    message = _message(customer, campaign, "eml_new00000001")
    _event(message, "click", NOON - timedelta(days=1))
    _order(customer, DAY, 90)
    _order(other, DAY, 10)
    db.session.commit()
    attribute_customers([customer.id])
    before = _rows(customer.id)
    _event(_message(other, campaign, "eml_other000002"), "open", NOON)
    db.session.commit()
    attribute_customers([other.id])
    new_order = _order(customer, DAY + timedelta(days=1), 30)  # imported late
    db.session.commit()
    attribute_customers([customer.id])
    after = _rows(customer.id)
    assert {i: after[i] for i in before} == before
    assert [row for i, row in after.items() if i not in before] == [
        (new_order.id, "eml_new00000001", "email_click", "attributed", Decimal(30))
    ]


def test_identical_rows_are_kept_as_many_times_as_the_rule_gives_them(app, make_customer):
    """Three clicks of one message at one moment: one attributed, two identical
    influenced rows, kept both on a second run; one click fewer drops one of them."""
    customer = make_customer("North")
    message = _message(customer, _campaign(), "eml_same0000001")
    for _ in range(3):
        _event(message, "click", NOON - timedelta(hours=3))
    _order(customer, DAY, 60)
    db.session.commit()
    assert attribute_customers([customer.id]) == 3
    before = _rows(customer.id)
    assert sorted(row[3] for row in before.values()) == ["attributed", "influenced", "influenced"]
    assert attribute_customers([customer.id]) == 3
    assert _rows(customer.id) == before
    db.session.delete(db.session.scalars(select(EmailEvent)).first())
    db.session.commit()
    assert attribute_customers([customer.id]) == 2
    after = _rows(customer.id)
    assert set(after) < set(before)  # one influenced row deleted, the others kept
    assert sorted(row[3] for row in after.values()) == ["attributed", "influenced"]


def test_email_clicks_and_opens_are_read_in_one_pass_and_apart_without_the_group(app):
    """The email channel's group replaces its two per-kind queries; a group naming a kind
    no source registers is not used (each source is read by its own query)."""
    from app.attribution.engine import _reads
    from app.attribution.touches import TouchGroup, groups, sources

    windowed = tuple((s, round(s.window().total_seconds())) for s in sources())
    read = [sorted(s.kind for s, _ in kinds) for _, kinds in _reads(windowed, tuple(groups()))]
    assert ["email_click", "email_open"] in read and ["sms_reply"] in read
    stray = TouchGroup(frozenset({"email_click", "fax_reply"}), groups()[0].query)
    read = [sorted(s.kind for s, _ in kinds) for _, kinds in _reads(windowed, (stray,))]
    assert ["email_click"] in read and ["email_open"] in read
