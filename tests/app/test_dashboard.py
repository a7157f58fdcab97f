"""The marketing dashboard: figures through the API (revenue attributed, human and machine
engagement, compliance against the bulk-sender thresholds, SMS), scoped to a rep's
territory, on the page with its CSV export, and in the browser with charts that agree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.messaging import consent
from app.messaging.machine_signals import Verdict
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage
from tests.app.test_crm_import import poster

API = "/api/sales/marketing/dashboard"


@pytest.fixture
def world(client, token_headers, admin, make_customer):
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    lapin = make_customer("North", name="Bistro Lapin", external_id="C-77", email="chef@lapin.fr")
    port = make_customer("North", name="Cave du Port", email="wine@gmail.com")
    now = utcnow()
    campaign = Campaign(
        channel="email", name="Weekly specials", status="sent", recipients_total=2,
        started_at=now - timedelta(days=2),
    )  # fmt: skip
    db.session.add(campaign)
    db.session.commit()
    messages = []
    for customer in (lapin, port):
        message = EmailMessage(
            customer_id=customer.id, campaign_id=campaign.id, to_address=customer.email,
            subject="Specials", status="sent", sent_at=now - timedelta(days=2),
            delivered_at=now - timedelta(days=2),
        )  # fmt: skip
        db.session.add(message)
        messages.append(message)
    db.session.commit()
    tracking.record_engagement(messages[0], "click", at=now - timedelta(days=1))
    tracking.record_engagement(messages[1], "open", verdict=Verdict(False, "apple_mpp"))
    messages[1].complained_at = now - timedelta(hours=5)
    texts = SmsMessage(
        customer_id=port.id, direction="outbound", to_address="+12125550102", body="Hi",
        status="sent", sent_at=now - timedelta(days=1), delivered_at=now - timedelta(days=1),
        delivery_status="delivered",
    )  # fmt: skip
    db.session.add(texts)
    db.session.commit()
    consent.opt_out("sms", "+12125550102", reason="stop", source="test", customer_id=port.id)
    post(
        "orders",
        [
            {
                "externalId": "O-1",
                "customer": "C-77",
                "orderDate": now.date().isoformat(),
                "lines": [{"sku": "SKU-1", "quantity": 6, "unitPrice": 40}],
            }
        ],
    )
    return campaign


def test_the_figures_through_the_api(client, token_headers, manager, world):
    answer = client.get(API, headers=token_headers(manager))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["attributedRevenue"] == "240.00" and body["attributedOrders"] == 1
    email = body["channels"]["email"]
    assert (email["sent"], email["delivered"]) == (2, 2)
    assert (email["humanOpens"], email["humanClicks"], email["machineOpens"]) == (1, 1, 1)
    assert email["humanOpenRate"] == 0.5 and email["complaints"] == 1
    assert email["byDomainType"]["consumer"]["sent"] == 1
    assert email["byDomainType"]["business"]["sent"] == 1
    assert body["compliance"]["complaintStatus"] == "over the limit"  # 1 of 2: 50%
    top = body["topCampaigns"][0]
    assert top["id"] == world.public_id and top["revenuePerRecipient"] == "120.00"
    sms = body["channels"]["sms"]
    assert (sms["sent"], sms["delivered"], sms["optOuts"]) == (1, 1, 1)
    assert sum(float(w["revenue"]) for w in body["revenueByWeek"]) == 240.0


def test_a_rep_sees_their_territory_only(client, token_headers, make_user, world):
    north = make_user("rep", territory="North")
    south = make_user("rep", territory="South")
    assert client.get(API, headers=token_headers(north)).get_json()["attributedOrders"] == 1
    theirs = client.get(API, headers=token_headers(south)).get_json()
    assert theirs["attributedOrders"] == 0 and theirs["channels"]["email"]["sent"] == 0
    refused = client.get(f"{API}?territory=North", headers=token_headers(south))
    assert refused.status_code == 422 and "territory" in refused.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=2026-12-01&to=2026-11-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("territory=Atlantis", "territory"),
    ],
)
def test_bad_input_names_the_field(client, token_headers, manager, query, field):
    answer = client.get(f"{API}?{query}", headers=token_headers(manager))
    assert answer.status_code == 422 and field in answer.get_json()["error"]["fields"]


def test_the_page_and_its_csv(client, login, manager, world):
    login(manager)
    page = client.get("/sales/marketing/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="attributed-revenue">240.00' in html
    assert "over the limit" in html and "Weekly specials" in html
    csv = client.get("/sales/marketing/dashboard.csv").get_data(as_text=True)
    assert "revenue,attributedRevenue,240.00" in csv and "email,humanOpens,1" in csv
    bad = client.get("/sales/marketing/dashboard?from=nope")
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)


@pytest.mark.browser
def test_the_charts_agree_with_the_api(live_server, page, manager, world, client, token_headers):
    from tests.browser.test_admin_pages import _sign_in
    from tests.conftest import PASSWORD

    figures = client.get(API, headers=token_headers(manager)).get_json()
    _sign_in(page, live_server, manager.email, PASSWORD)
    page.click("nav >> text=Dashboard")
    page.wait_for_selector("#dashboard-data[data-drawn]", state="attached")
    drawn = page.evaluate(
        "['revenue-chart', 'rates-chart'].map(id => Chart.getChart(id).data.datasets"
        ".map(d => d.data))"
    )
    weeks = figures["channels"]["email"]["byWeek"]
    assert drawn[0] == [[float(w["revenue"]) for w in figures["revenueByWeek"]]]
    assert drawn[1] == [
        [w["humanOpenRate"] * 100 for w in weeks],
        [w["humanClickRate"] * 100 for w in weeks],
    ]
    assert page.inner_text("[data-testid=attributed-revenue]") == figures["attributedRevenue"]
