"""Engagement score and state: from human touches and orders, recent ones weighing more,
rescored when a person engages or orders arrive; sunset after many unanswered emails;
smart-list criteria, the customer JSON and the customer page badge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.engagement.score import rescore_everyone
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from tests.app.test_crm_import import poster


@pytest.fixture
def post(client, token_headers, admin):
    do = poster(client, token_headers(admin))
    do("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    return do


@pytest.fixture
def customer(make_customer):
    return make_customer("North", name="Bistro Lapin", external_id="C-77")


def _emails(customer, count: int, days_ago: int = 20) -> list[EmailMessage]:
    sent = utcnow() - timedelta(days=days_ago)
    messages = [
        EmailMessage(
            customer_id=customer.id,
            to_address=customer.email,
            subject=f"Specials {n}",
            status="sent",
            sent_at=sent,
        )
        for n in range(count)
    ]
    db.session.add_all(messages)
    db.session.commit()
    return messages


def _customer_json(client, token_headers, admin, customer):
    answer = client.get(f"/api/sales/customers/{customer.public_id}", headers=token_headers(admin))
    assert answer.status_code == 200
    return answer.get_json()


def test_a_persons_click_and_an_order_make_an_engaged_customer(
    client, token_headers, admin, post, customer
):
    (message,) = _emails(customer, 1)
    tracking.record_engagement(message, "click", at=utcnow() - timedelta(days=1))
    clicked = _customer_json(client, token_headers, admin, customer)
    assert clicked["engagementState"] == "at_risk" and 5 <= clicked["engagementScore"] <= 6
    day = (utcnow() - timedelta(days=2)).date().isoformat()
    post(
        "orders",
        [
            {
                "externalId": "O-1",
                "customer": "C-77",
                "orderDate": day,
                "lines": [{"sku": "SKU-1", "quantity": 6, "unitPrice": 40}],
            }
        ],
    )
    ordered = _customer_json(client, token_headers, admin, customer)
    assert ordered["engagementState"] == "engaged" and ordered["engagementScore"] >= 14
    assert ordered["lastEngagedAt"] is not None


def test_machine_clicks_score_nothing(client, token_headers, admin, customer):
    (message,) = _emails(customer, 1)
    tracking.record_engagement(message, "click", verdict=Verdict(False, "burst"))
    rescore_everyone()
    assert _customer_json(client, token_headers, admin, customer)["engagementScore"] == 0


def test_old_touches_weigh_less(client, token_headers, admin, make_customer, customer):
    recent = make_customer("North", name="Recent")
    (old_message,) = _emails(customer, 1, days_ago=100)
    (new_message,) = _emails(recent, 1)
    tracking.record_engagement(old_message, "click", at=utcnow() - timedelta(days=90))
    tracking.record_engagement(new_message, "click", at=utcnow() - timedelta(days=1))
    rescore_everyone()
    db.session.expire_all()
    assert recent.engagement_score > customer.engagement_score


def test_many_unanswered_emails_put_an_address_in_sunset(
    client, token_headers, admin, make_customer, customer
):
    _emails(customer, 10)
    few = make_customer("North", name="Few emails")
    _emails(few, 9)
    rescore_everyone()
    assert _customer_json(client, token_headers, admin, customer)["engagementState"] == "sunset"
    assert _customer_json(client, token_headers, admin, few)["engagementState"] == "at_risk"


def test_weights_are_a_setting(app, client, token_headers, admin, customer):
    app.config["ENGAGEMENT_WEIGHTS"] = "email_click=50"
    (message,) = _emails(customer, 1)
    tracking.record_engagement(message, "click", at=utcnow())
    answer = _customer_json(client, token_headers, admin, customer)
    # the click (50) and the open it implies (1)
    assert answer["engagementScore"] == 51 and answer["engagementState"] == "engaged"


def test_smart_list_criteria_on_engagement(client, token_headers, manager, make_customer, customer):
    quiet = make_customer("North", name="Quiet")
    _emails(quiet, 10)
    (message,) = _emails(customer, 1)
    tracking.record_engagement(message, "click", at=utcnow() - timedelta(days=3))
    rescore_everyone()

    def names(criterion):
        answer = client.post(
            "/api/sales/marketing/lists/preview",
            json={"criteria": {"all": [criterion]}},
            headers=token_headers(manager),
        )
        assert answer.status_code == 200, answer.get_json()
        return sorted(s["name"] for s in answer.get_json()["sample"])

    assert names({"type": "engagement_score", "minScore": 4}) == ["Bistro Lapin"]
    assert names({"type": "engaged_in_days", "days": 7}) == ["Bistro Lapin"]
    assert names({"type": "engaged_in_days", "days": 2}) == []
    assert names({"type": "engagement_state", "state": "sunset"}) == ["Quiet"]
    bad = client.post(
        "/api/sales/marketing/lists/preview",
        json={"criteria": {"all": [{"type": "engagement_score", "minScore": 101}]}},
        headers=token_headers(manager),
    )
    assert (
        bad.status_code == 422 and "criteria.all[0].minScore" in bad.get_json()["error"]["fields"]
    )


def test_the_customer_page_shows_the_badge(client, login, manager, customer):
    login(manager)
    page = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert 'data-testid="engagement"' in page and "At risk · 0" in page


def test_the_customers_table_sorts_by_engagement(client, login, manager, make_customer, customer):
    keen = make_customer("North", name="Keen")
    (message,) = _emails(keen, 1)
    tracking.record_engagement(message, "click", at=utcnow())
    login(manager)
    page = client.get("/sales/customers?sort=engagement").get_data(as_text=True)
    assert page.index(">Keen<") < page.index(">Bistro Lapin<")  # highest first
    rising = client.get("/sales/customers?sort=engagement&dir=asc").get_data(as_text=True)
    assert rising.index(">Bistro Lapin<") < rising.index(">Keen<")
