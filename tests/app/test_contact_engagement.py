"""Engagement per contact address: each email address and phone a message went to is
scored from the human touches of messages to it (same weights and half-life), machine
opens and clicks count for nothing, rows are rebuilt with the customer's score; the
customer JSON (``contactScores``) and the customer page show them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.engagement.models import ContactEngagement
from app.engagement.score import rescore_customers, rescore_everyone
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms import services as sms

BUYER = "buyer@bistro.example"
OWNER = "owner@bistro.example"


def _email(customer, to: str) -> EmailMessage:
    message = EmailMessage(
        customer_id=customer.id,
        to_address=to,
        subject="Specials",
        status="sent",
        sent_at=utcnow() - timedelta(days=3),
    )
    db.session.add(message)
    db.session.commit()
    return message


def _scores(client, token_headers, admin, customer) -> dict[tuple[str, str], dict]:
    answer = client.get(f"/api/sales/customers/{customer.public_id}", headers=token_headers(admin))
    assert answer.status_code == 200
    return {(s["channel"], s["address"]): s for s in answer.get_json()["contactScores"]}


def test_each_address_is_scored_from_its_own_human_touches(
    client, token_headers, admin, make_customer
):
    customer = make_customer("North", name="Bistro", email=BUYER, phone="+12125550170")
    now = utcnow()
    # the buyer clicks (5, and the open it implies: 1); the owner only opens (1), from
    # an address written in capitals
    tracking.record_engagement(_email(customer, BUYER), "click", at=now - timedelta(hours=2))
    tracking.record_engagement(
        _email(customer, "Owner@Bistro.example"), "open", at=now - timedelta(hours=2)
    )
    sms.receive({"From": "+12125550170", "To": "+15550000000", "Body": "yes", "MessageSid": "S1"})
    db.session.commit()
    rescore_everyone()
    scores = _scores(client, token_headers, admin, customer)
    assert list(scores) == [("email", BUYER), ("sms", "+12125550170"), ("email", OWNER)]
    assert scores[("email", BUYER)]["score"] == 6 and scores[("email", BUYER)]["current"]
    assert scores[("email", OWNER)]["score"] == 1 and not scores[("email", OWNER)]["current"]
    assert scores[("sms", "+12125550170")]["score"] == 8  # a reply
    assert scores[("email", BUYER)]["lastEngagedAt"] is not None
    # the account's score is the sum; rescoring again rebuilds the rows, not adds to them
    rescore_everyone()
    db.session.expire_all()
    assert customer.engagement_score == 15
    assert db.session.scalar(select(func.count()).select_from(ContactEngagement)) == 3


def test_machine_opens_and_clicks_score_no_address(client, token_headers, admin, make_customer):
    customer = make_customer("North", name="Gateway Ltd", email=BUYER, phone=None)
    scanned = _email(customer, BUYER)
    tracking.record_engagement(scanned, "click", verdict=Verdict(False, "burst"))
    tracking.record_engagement(scanned, "open", verdict=Verdict(False, "apple_mpp"))
    read = _email(customer, OWNER)
    tracking.record_engagement(read, "open", verdict=Verdict(False, "apple_mpp"))
    tracking.record_engagement(read, "open", at=utcnow() - timedelta(hours=1))  # a person
    rescore_everyone()
    scores = _scores(client, token_headers, admin, customer)
    # the scanned current address is listed at 0; the earlier one scores its person's open
    assert [(key, s["score"]) for key, s in scores.items()] == [
        (("email", BUYER), 0),
        (("email", OWNER), 1),
    ]
    assert db.session.scalar(select(func.count()).select_from(ContactEngagement)) == 1


def test_an_address_with_no_touch_left_loses_its_row(client, token_headers, admin, make_customer):
    customer = make_customer("North", name="Bistro", email=BUYER)
    tracking.record_engagement(_email(customer, OWNER), "click", at=utcnow() - timedelta(days=1))
    rescore_everyone()
    assert ("email", OWNER) in _scores(client, token_headers, admin, customer)
    rescore_customers([customer.id], now=utcnow() + timedelta(days=200))  # past the look-back
    assert ("email", OWNER) not in _scores(client, token_headers, admin, customer)


def test_the_customer_page_shows_each_addresses_score(client, login, admin, make_customer):
    customer = make_customer("North", name="Bistro", email=BUYER, phone="+12125550171")
    tracking.record_engagement(_email(customer, BUYER), "click", at=utcnow() - timedelta(hours=1))
    tracking.record_engagement(_email(customer, OWNER), "open", at=utcnow() - timedelta(hours=1))
    rescore_everyone()
    login(admin)
    page = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert (
        f'data-channel="email" data-address="{BUYER}" title="Engagement of this address: 6 of 100'
        in page
    )
    assert (
        'data-channel="sms" data-address="+12125550171" title="Engagement of this address: 0'
        in (page)
    )
    assert "Earlier email" in page and f'data-address="{OWNER}"' in page
