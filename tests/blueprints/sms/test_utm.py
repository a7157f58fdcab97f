"""UTM parameters on the web links of texts: added when a campaign's or flow's text is
rendered (what Twilio receives, what is stored, what the review shows and counts), never
on Decant's own links, off with TRACKING_UTM=false; an order carrying them is credited to
the SMS campaign first."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging.models import Campaign
from blueprints.sms.links import tag_text
from blueprints.sms.models import SmsMessage
from providers.sms import segment_info
from tests.app.test_crm_import import poster
from tests.blueprints.sms.conftest import PUBLIC
from tests.blueprints.sms.test_campaigns import make_list

SHOP = "https://shop.example/barolo?vintage=2019"
BODY = f"Hi {{{{customer_name}}}}, Barolo is back: {SHOP}. Your settings: {PUBLIC}/prefs"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _urls(text: str) -> list[str]:
    return [word.rstrip(".") for word in text.split() if word.startswith("http")]


def _campaign(call, manager, customers, body: str = BODY) -> dict:
    list_id = make_list(call, manager, customers)
    r = call(
        manager,
        "post",
        "/api/sales/marketing/campaigns",
        json={"channel": "sms", "listId": list_id, "body": body},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_campaign_text_carries_utm_on_shop_links_only(
    call, manager, make_customer, opt_in, fake_twilio
):
    alpha = make_customer(phone="+12125550140", name="Alpha")
    opt_in(alpha)
    draft = _campaign(call, manager, [alpha])
    assert call(manager, "post", f"/api/sales/marketing/campaigns/{draft['id']}/send").status_code
    [sent] = fake_twilio.received
    shop, own = _urls(sent.body)
    assert shop.startswith(SHOP + "&")
    assert _query(shop) == {
        "vintage": ["2019"],
        "utm_source": ["decant"],
        "utm_medium": ["sms"],
        "utm_campaign": [draft["id"]],
    }
    assert own == f"{PUBLIC}/prefs"  # Decant's own page: no UTM
    assert sent.body.startswith("Hi Alpha, Barolo is back: ")
    assert f"{draft['id']}. Your settings" in sent.body  # the full stop stays outside
    stored = db.session.scalar(select(SmsMessage).where(SmsMessage.direction == "outbound"))
    assert stored.body == sent.body
    assert stored.segments == segment_info(sent.body).segments


def test_the_review_shows_and_counts_the_text_as_it_goes_out(
    call, manager, make_customer, opt_in, login, client
):
    alpha = make_customer(phone="+12125550141", name="Alpha")
    opt_in(alpha)
    draft = _campaign(call, manager, [alpha], body=f"Barolo {SHOP}")
    review = call(manager, "get", f"/api/sales/marketing/campaigns/{draft['id']}/review")
    preview = review.get_json()["preview"]
    assert "utm_campaign=" + draft["id"] in preview["body"]
    assert preview["characters"] == len(preview["body"]) > len(f"Barolo {SHOP}")
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{draft['id']}/review").get_data(as_text=True)
    assert f"{preview['characters']} characters" in page
    assert "utm_medium=sms" in page


def test_a_body_that_only_overflows_with_its_utm_is_refused(call, manager, make_customer, app):
    app.config["SMS_MAX_SEGMENTS"] = 1
    customer = make_customer(phone="+12125550142")
    lead = "x" * (160 - len(SHOP) - 1)  # exactly one GSM-7 segment as written
    assert segment_info(f"{lead} {SHOP}").segments == 1
    list_id = make_list(call, manager, [customer])
    r = call(
        manager,
        "post",
        "/api/sales/marketing/campaigns",
        json={"channel": "sms", "listId": list_id, "body": f"{lead} {SHOP}"},
    )
    assert r.status_code == 422, r.get_json()
    assert "UTM" in r.get_json()["error"]["fields"]["body"]
    assert db.session.scalar(select(Campaign)) is None


def test_tracking_utm_off_leaves_texts_as_written(
    call, manager, make_customer, opt_in, fake_twilio, app
):
    app.config["TRACKING_UTM"] = False
    alpha = make_customer(phone="+12125550143", name="Alpha")
    opt_in(alpha)
    draft = _campaign(call, manager, [alpha])
    call(manager, "post", f"/api/sales/marketing/campaigns/{draft['id']}/send")
    assert [m.body for m in fake_twilio.received] == [
        f"Hi Alpha, Barolo is back: {SHOP}. Your settings: {PUBLIC}/prefs"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://w.example/Barolo_(wine)!", "see https://w.example/Barolo_(wine)?{q}!"),
        ("(https://w.example/a)", "(https://w.example/a?{q})"),
        ("HTTP://W.EXAMPLE/A, then", "HTTP://W.EXAMPLE/A?{q}, then"),
        ("mail orders@w.example or call", "mail orders@w.example or call"),
        ("https://w.example/a?utm_campaign=spring", "https://w.example/a?utm_campaign=spring&{s}"),
    ],
)
def test_links_are_found_in_running_text(app, text, expected):
    with app.app_context():
        q = "utm_source=decant&utm_medium=sms&utm_campaign=cmp_A"
        s = "utm_source=decant&utm_medium=sms"
        assert tag_text(text, "cmp_A") == expected.format(q=q, s=s)


def test_an_order_with_the_texts_utm_is_credited_to_the_sms_campaign(
    call, manager, make_customer, opt_in, fake_twilio, client, token_headers, admin
):
    alpha = make_customer("North", phone="+12125550144", name="Alpha", external_id="C-90")
    opt_in(alpha)
    draft = _campaign(call, manager, [alpha])
    call(manager, "post", f"/api/sales/marketing/campaigns/{draft['id']}/send")
    landing = _query(_urls(fake_twilio.received[0].body)[0])
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    report = post(
        "orders",
        [
            {
                "externalId": "W-9",
                "customer": "C-90",
                "orderDate": date.today().isoformat(),
                "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": 40}],
                "utmSource": landing["utm_source"][0],
                "utmMedium": landing["utm_medium"][0],
                "utmCampaign": landing["utm_campaign"][0],
            }
        ],
    )
    assert report["rejected"] == 0, report
    order = client.get(
        f"/api/sales/orders/{report['rows'][0]['id']}", headers=token_headers(admin)
    ).get_json()
    credit = order["attribution"]["attributedTo"]
    assert (credit["campaignId"], credit["channel"], credit["kind"]) == (draft["id"], "sms", "utm")
    campaign = call(manager, "get", f"/api/sales/marketing/campaigns/{draft['id']}").get_json()
    assert campaign["attributedOrders"] == 1 and campaign["attributedRevenue"] == "80.00"


def test_a_flow_text_names_its_flow(client, token_headers, manager, make_customer, opt_in):
    from app.messaging.models import Template

    customer = make_customer(phone="+12125550145", name="Alpha")
    opt_in(customer)
    template = Template(type="sms", name="Nudge", body=f"New in: {SHOP}")
    db.session.add(template)
    db.session.commit()
    headers = token_headers(manager)
    flows = "/api/sales/marketing/flows"
    flow = client.post(
        flows,
        json={
            "name": "Welcome",
            "trigger": {"type": "manual"},
            "steps": [{"type": "sms", "templateId": template.public_id}],
        },
        headers=headers,
    ).get_json()
    assert client.post(f"{flows}/{flow['id']}/activate", headers=headers).status_code == 200
    entered = client.post(
        f"{flows}/{flow['id']}/runs", json={"customerId": customer.public_id}, headers=headers
    )
    assert entered.status_code == 201, entered.get_json()
    db.session.expire_all()
    [text] = db.session.scalars(select(SmsMessage).where(SmsMessage.flow_run_id.is_not(None)))
    assert _query(_urls(text.body)[0])["utm_campaign"] == [flow["id"]]
    assert text.segments == segment_info(text.body).segments
