"""Order attribution: the last human touch of the account within its window gets the
order; other touches in their windows influenced it. Orders arrive through the bulk
import API (as a rep's or an ERP's would, late), which credits them again."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.attribution.reports import campaign_revenue
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.messaging.models import Campaign
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage
from tests.app.test_crm_import import poster

ORDER_DAY = date(2026, 11, 30)
NOON = datetime.combine(ORDER_DAY, time(12), tzinfo=UTC)


@pytest.fixture
def post(client, token_headers, admin):
    do = poster(client, token_headers(admin))
    do("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    return do


@pytest.fixture
def customer(make_customer):
    return make_customer("North", name="Bistro Lapin", external_id="C-77")


def _campaign(name: str, channel: str = "email") -> Campaign:
    campaign = Campaign(channel=channel, name=name, status="sent")
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _email(customer, campaign: Campaign | None) -> EmailMessage:
    message = EmailMessage(
        customer_id=customer.id,
        campaign_id=campaign.id if campaign else None,
        to_address=customer.email,
        subject="Specials",
        status="sent",
        sent_at=NOON - timedelta(days=10),
    )
    db.session.add(message)
    db.session.commit()
    return message


def _touch(message: EmailMessage, kind: str, at: datetime, human: bool = True) -> None:
    verdict = Verdict(True) if human else Verdict(False, "burst")
    tracking.record_engagement(message, kind, at=at, url="https://shop.example/", verdict=verdict)


def _order(post, external_id="O-1", day=ORDER_DAY, status="delivered", quantity=6):
    row = {
        "externalId": external_id,
        "customer": "C-77",
        "orderDate": day.isoformat(),
        "status": status,
        "lines": [{"sku": "SKU-1", "quantity": quantity, "unitPrice": 40}],
    }
    report = post("orders", [row])
    assert report["rejected"] == 0, report
    return report["rows"][0]["id"]


def _attribution(client, token_headers, admin, order_id):
    answer = client.get(f"/api/sales/orders/{order_id}", headers=token_headers(admin))
    assert answer.status_code == 200
    return answer.get_json()["attribution"]


def test_a_click_days_before_a_late_keyed_order_gets_the_credit(
    app, client, token_headers, admin, post, customer
):
    specials = _campaign("Weekly specials")
    message = _email(customer, specials)
    _touch(message, "click", NOON - timedelta(days=3))
    order_id = _order(post)  # keyed in by the rep a week later: credited on arrival
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["messageId"] == message.public_id
    assert credit["attributedTo"]["campaignId"] == specials.public_id
    assert credit["attributedTo"]["kind"] == "email_click"
    assert "last human touch" in credit["why"]
    # the click implied a human open 3 days before: outside the open's 1-day window
    assert credit["influencedBy"] == []
    figures = campaign_revenue([specials.id])[specials.id]
    assert figures == {
        "attributedOrders": 1,
        "attributedRevenue": "240.00",
        "influencedOrders": 1,
        "influencedRevenue": "240.00",
    }


def test_each_credit_carries_the_monday_of_its_orders_week(post, customer):
    """Revenue by week reads the week attribution writes, computed in SQL on each
    database: the Monday on or before the order's date. ORDER_DAY is a Monday; the click
    on the Saturday before credits orders from that Saturday to the Wednesday."""
    from app.attribution.models import OrderTouch

    _touch(_email(customer, _campaign("Specials")), "click", NOON - timedelta(days=2))
    days = [ORDER_DAY - timedelta(days=1), ORDER_DAY, ORDER_DAY + timedelta(days=2)]
    for number, day in enumerate(days):
        _order(post, f"O-{number}", day=day)
    rows = db.session.execute(
        db.select(OrderTouch.order_date, OrderTouch.order_week).order_by(OrderTouch.order_date)
    ).all()
    last_week = ORDER_DAY - timedelta(days=7)
    assert [tuple(row) for row in rows] == [
        (days[0], last_week),
        (days[1], ORDER_DAY),
        (days[2], ORDER_DAY),
    ]


@pytest.mark.parametrize(
    ("kind", "before", "credited"),
    [
        ("click", timedelta(days=4, hours=12), True),  # inside 5 days of the order's end
        ("click", timedelta(days=5, hours=13), False),
        ("open", timedelta(hours=6), True),  # the order's own day
        ("open", timedelta(days=1, hours=13), False),
    ],
)
def test_windows_per_kind_of_touch(
    post, customer, kind, before, credited, client, token_headers, admin
):
    message = _email(customer, _campaign("Specials"))
    _touch(message, kind, NOON - before)
    order_id = _order(post)
    credit = _attribution(client, token_headers, admin, order_id)
    assert (credit is not None) is credited


def test_machine_touches_earn_nothing(post, customer, client, token_headers, admin):
    message = _email(customer, _campaign("Specials"))
    _touch(message, "click", NOON - timedelta(days=1), human=False)
    assert _attribution(client, token_headers, admin, _order(post)) is None


def test_the_last_touch_wins_and_the_others_influenced(
    post, customer, client, token_headers, admin
):
    older, newer = _campaign("Barolo launch"), _campaign("Weekend tasting")
    _touch(_email(customer, older), "click", NOON - timedelta(days=2))
    last = _email(customer, newer)
    _touch(last, "open", NOON - timedelta(hours=2))
    order_id = _order(post)
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["campaignId"] == newer.public_id
    assert credit["attributedTo"]["kind"] == "email_open"
    assert [t["campaignId"] for t in credit["influencedBy"]] == [older.public_id]
    figures = campaign_revenue([older.id, newer.id])
    assert figures[newer.id]["attributedOrders"] == 1
    assert figures[older.id]["attributedOrders"] == 0
    assert figures[older.id]["influencedRevenue"] == "240.00"


def test_a_cancelled_order_loses_its_credit(post, customer, client, token_headers, admin):
    specials = _campaign("Specials")
    _touch(_email(customer, specials), "click", NOON - timedelta(days=1))
    order_id = _order(post)
    assert campaign_revenue([specials.id])[specials.id]["attributedOrders"] == 1
    _order(post, status="cancelled")  # the same order, cancelled by the ERP
    assert _attribution(client, token_headers, admin, order_id) is None
    assert campaign_revenue([specials.id])[specials.id]["attributedOrders"] == 0


def test_an_sms_reply_credits_the_text_it_answered(post, customer, client, token_headers, admin):
    texts = _campaign("Allocation alert", channel="sms")
    outbound = SmsMessage(
        customer_id=customer.id,
        campaign_id=texts.id,
        direction="outbound",
        to_address="+12125550101",
        body="Barolo allocation open",
        status="sent",
        created_at=NOON - timedelta(days=2),
    )
    reply = SmsMessage(
        customer_id=customer.id,
        direction="inbound",
        to_address="+15550000000",
        from_address="+12125550101",
        body="Put me down for 6",
        status="received",
        created_at=NOON - timedelta(days=1),
    )
    db.session.add_all([outbound, reply])
    db.session.commit()
    credit = _attribution(client, token_headers, admin, _order(post))
    assert credit["attributedTo"] == {
        "channel": "sms",
        "kind": "sms_reply",
        "messageId": outbound.public_id,
        "campaignId": texts.public_id,
        "touchedAt": (NOON - timedelta(days=1)).isoformat(),
    }


def test_windows_are_settings(app, post, customer, client, token_headers, admin):
    app.config["ATTRIBUTION_EMAIL_CLICK_DAYS"] = 10
    _touch(_email(customer, _campaign("Specials")), "click", NOON - timedelta(days=8))
    assert _attribution(client, token_headers, admin, _order(post)) is not None
