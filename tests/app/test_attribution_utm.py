"""Orders carrying UTM data: imported through the order API, and credited to the campaign
their ``utmCampaign`` names before any last touch (reason ``utm``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.attribution.reports import campaign_revenue
from app.crm.models import Order
from app.extensions import db
from tests.app.test_attribution import NOON, ORDER_DAY, _attribution, _campaign, _email, _touch
from tests.app.test_crm_import import poster


@pytest.fixture
def post(client, token_headers, admin):
    do = poster(client, token_headers(admin))
    do("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    return do


@pytest.fixture
def customer(make_customer):
    return make_customer("North", name="Bistro Lapin", external_id="C-77")


def _utm_order(post, campaign_ref, external_id="W-1", status="delivered", **utm):
    row = {
        "externalId": external_id,
        "customer": "C-77",
        "orderDate": ORDER_DAY.isoformat(),
        "status": status,
        "lines": [{"sku": "SKU-1", "quantity": 3, "unitPrice": 40}],
        "utmSource": "decant",
        "utmMedium": "email",
        "utmCampaign": campaign_ref,
        **utm,
    }
    report = post("orders", [row])
    assert report["rejected"] == 0, report
    return report["rows"][0]["id"]


def test_an_order_naming_a_campaign_is_credited_to_it_before_the_last_touch(
    post, customer, client, token_headers, admin
):
    tasting, specials = _campaign("Tasting"), _campaign("Weekly specials")
    _touch(_email(customer, specials), "click", NOON - timedelta(hours=3))  # the last touch
    order_id = _utm_order(post, tasting.public_id)
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["campaignId"] == tasting.public_id
    assert credit["attributedTo"]["kind"] == "utm"
    assert credit["attributedTo"]["messageId"] is None
    assert "UTM" in credit["why"]
    # the click (and the open it implies) influenced it
    assert {t["campaignId"] for t in credit["influencedBy"]} == {specials.public_id}
    assert campaign_revenue([tasting.id, specials.id]) == {
        tasting.id: {
            "attributedOrders": 1,
            "attributedRevenue": "120.00",
            "influencedOrders": 1,
            "influencedRevenue": "120.00",
        },
        specials.id: {
            "attributedOrders": 0,
            "attributedRevenue": "0.00",
            "influencedOrders": 1,
            "influencedRevenue": "120.00",
        },
    }


def test_utm_naming_no_campaign_leaves_the_last_touch(post, customer, client, token_headers, admin):
    specials = _campaign("Weekly specials")
    message = _email(customer, specials)
    _touch(message, "click", NOON - timedelta(days=1))
    order_id = _utm_order(post, "spring-blog-post")
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["messageId"] == message.public_id
    assert credit["attributedTo"]["kind"] == "email_click"


def test_utm_credit_needs_no_touch_and_a_cancelled_order_earns_none(
    post, customer, client, token_headers, admin
):
    tasting = _campaign("Tasting", channel="sms")
    order_id = _utm_order(post, tasting.public_id, utmMedium="sms")
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["campaignId"] == tasting.public_id
    assert credit["attributedTo"]["channel"] == "sms"
    post("orders", [{"externalId": "W-1", "status": "cancelled"}])
    assert _attribution(client, token_headers, admin, order_id) is None


def test_utm_arriving_later_on_an_update_moves_the_credit(
    post, customer, client, token_headers, admin
):
    tasting, specials = _campaign("Tasting"), _campaign("Weekly specials")
    _touch(_email(customer, specials), "click", NOON - timedelta(hours=3))
    order_id = _utm_order(post, None, utmSource=None, utmMedium=None)
    assert _attribution(client, token_headers, admin, order_id)["attributedTo"]["campaignId"] == (
        specials.public_id
    )
    report = post("orders", [{"externalId": "W-1", "utmCampaign": tasting.public_id}])
    assert report["updated"] == 1
    credit = _attribution(client, token_headers, admin, order_id)
    assert credit["attributedTo"]["campaignId"] == tasting.public_id


def test_the_order_api_keeps_and_returns_utm(post, customer, client, token_headers, admin):
    order_id = _utm_order(post, "  autumn  ")
    answer = client.get(f"/api/sales/orders/{order_id}", headers=token_headers(admin)).get_json()
    assert (answer["utmSource"], answer["utmMedium"], answer["utmCampaign"]) == (
        "decant",
        "email",
        "autumn",
    )


def test_bad_utm_is_refused_naming_the_field_and_writes_nothing(post, customer):
    rows = [
        {
            "externalId": "W-2",
            "customer": "C-77",
            "orderDate": ORDER_DAY.isoformat(),
            "lines": [{"sku": "SKU-1", "quantity": 1}],
            "utmCampaign": "x" * 101,
        },
        {
            "externalId": "W-3",
            "customer": "C-77",
            "orderDate": ORDER_DAY.isoformat(),
            "lines": [{"sku": "SKU-1", "quantity": 1}],
            "utmSource": 7,
        },
    ]
    report = post("orders", rows)
    assert [r["result"] for r in report["rows"]] == ["rejected", "rejected"]
    assert list(report["rows"][0]["errors"]) == ["utmCampaign"]
    assert "100" in report["rows"][0]["errors"]["utmCampaign"]  # too long, not unknown
    assert list(report["rows"][1]["errors"]) == ["utmSource"]
    assert "string" in report["rows"][1]["errors"]["utmSource"]
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
