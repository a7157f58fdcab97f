"""WhatsApp as a plug-in: campaigns, the 24-hour window, signed webhooks, consent per
channel, the customer page, all through Twilio's SDK to the local fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

from sqlalchemy import select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import consent
from app.webhooks.models import WebhookEvent
from tests.conftest import csrf_from
from tests.plugins.whatsapp.conftest import SENDER


def make_list(call, user, customers) -> str:
    lst = call(user, "post", "/api/sales/marketing/lists", json={"name": "WA"}).get_json()
    r = call(
        user,
        "post",
        f"/api/sales/marketing/lists/{lst['id']}/members",
        json={"customerIds": [c.public_id for c in customers]},
    )
    assert r.status_code == 200, r.get_json()
    return lst["id"]


def test_the_channel_is_an_installed_package_found_by_its_entry_point(app):
    found = {ep.name: ep.value for ep in entry_points(group="decant.channels")}
    assert found["whatsapp"] == "decant_whatsapp:channel"
    assert "whatsapp" in app.extensions["decant_channels"]
    assert app.config["WHATSAPP_RATE_LIMIT"] == 1000  # declared int, given as text


def test_campaign_to_a_list_sends_the_template_to_opted_in_customers(
    call, manager, make_customer, opt_in, template, fake_twilio
):
    a = make_customer(phone="+12125550201", name="Alpha Wines")
    b = make_customer(phone="+12125550202", name="Beta Cellars", territory="South")
    c = make_customer(phone="+12125550203")  # no WhatsApp opt-in
    d = make_customer(phone="+12125550204")
    opt_in(a)
    opt_in(b)
    opt_in(c, channel="sms")  # SMS consent is not WhatsApp consent
    opt_in(d, "opted_out")
    list_id = make_list(call, manager, [a, b, c, d])
    r = call(manager, "post", "/send", json={"listId": list_id, "templateId": template["id"]})
    assert r.status_code == 202, r.get_json()
    doc = call(manager, "get", f"/campaigns/{r.get_json()['id']}").get_json()
    assert doc["status"] == "sent" and doc["recipientsTotal"] == 4
    assert doc["counts"]["sent"] == 2 and doc["counts"]["suppressed"] == 2
    sent = sorted(fake_twilio.received, key=lambda m: m.to)
    assert [m.to for m in sent] == ["whatsapp:+12125550201", "whatsapp:+12125550202"]
    assert {m.from_ for m in sent} == {"whatsapp:" + SENDER}
    assert [m.form["ContentSid"] for m in sent] == [[template["contentSid"]]] * 2
    assert json.loads(sent[0].form["ContentVariables"][0]) == {"1": "Alpha Wines", "2": "North"}
    assert "Body" not in sent[0].form
    assert sent[1].body == "Hello Beta Cellars, the South allocation is open."
    activities = db.session.scalars(select(Activity).where(Activity.type == "WhatsApp")).all()
    assert sorted(x.customer_id for x in activities) == [a.id, b.id]
    assert activities[0].body.startswith("Hello ")


def test_free_text_needs_the_window_templates_do_not(
    call, manager, make_customer, opt_in, template, inbound, fake_twilio
):
    customer = make_customer(phone="+12125550210", name="Gamma")
    opt_in(customer)
    payload = {"customerId": customer.public_id, "body": "Your case ships today"}
    r = call(manager, "post", "/send", json=payload)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "window_closed"
    assert "body" in r.get_json()["error"]["fields"] and fake_twilio.received == []

    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": customer.public_id, "templateId": template["id"]},
    )
    assert r.status_code == 201, r.get_json()
    assert fake_twilio.received[-1].form["ContentSid"] == [template["contentSid"]]

    assert inbound("+12125550210", "When does my order ship?").status_code == 200
    r = call(manager, "post", "/send", json=payload)
    assert r.status_code == 201, r.get_json()
    last = fake_twilio.received[-1]
    assert last.body == "Your case ships today" and "ContentSid" not in last.form


def test_window_closes_24_hours_after_the_last_inbound_message(
    call, manager, make_customer, opt_in, inbound
):
    from decant_whatsapp.models import WhatsAppConversation

    customer = make_customer(phone="+12125550211")
    opt_in(customer)
    inbound("+12125550211", "hi")
    conversation = db.session.scalar(select(WhatsAppConversation))
    conversation.last_inbound_at = datetime.now(UTC) - timedelta(hours=24, seconds=1)
    db.session.commit()
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "late"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "window_closed"


def test_free_text_outside_twilios_window_fails_by_status_callback_63016(
    app, call, manager, make_customer, opt_in, inbound, fake_twilio, settle
):
    """Our window said open but Twilio's had closed: 201, then failed with 63016."""
    customer = make_customer(phone="+12125550212")
    opt_in(customer)
    inbound("+12125550212", "hello")
    fake_twilio.open_window(
        "whatsapp:+12125550212", "whatsapp:" + SENDER, datetime.now(UTC) - timedelta(days=2)
    )
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    assert r.status_code == 201 and r.get_json()["status"] == "sent"
    sid = r.get_json()["providerMessageId"]
    assert settle(sid).status_code == 204
    doc = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "x"})
    from decant_whatsapp.models import WhatsAppMessage

    message = db.session.scalar(
        select(WhatsAppMessage).where(WhatsAppMessage.provider_message_id == sid)
    )
    assert message.status == "failed" and message.error_code == "63016"
    assert "24-hour window" in message.error_message
    assert doc.status_code == 201


def test_inbound_and_status_callbacks_go_through_the_signed_intake_once(
    client, call, manager, make_customer, opt_in, inbound, template, fake_twilio, settle
):
    from decant_whatsapp.models import WhatsAppMessage

    customer = make_customer(phone="+12125550220")
    opt_in(customer)
    sid = "SM" + "c" * 32
    assert inbound("+12125550220", "Do you have the 2019?", MessageSid=sid).status_code == 200
    assert inbound("+12125550220", "Do you have the 2019?", MessageSid=sid).status_code == 200
    received = db.session.scalars(
        select(WhatsAppMessage).where(WhatsAppMessage.direction == "inbound")
    ).all()
    assert len(received) == 1 and received[0].customer_id == customer.id
    kinds = db.session.scalars(select(WebhookEvent.provider)).all()
    assert kinds == ["whatsapp"]
    activity = db.session.get(Activity, received[0].activity_id)
    assert activity.type == "WhatsApp" and activity.direction == "received"

    unsigned = {"From": "whatsapp:+12125550220", "Body": "x", "MessageSid": "SM" + "d" * 32}
    assert client.post("/api/sales/marketing/webhooks/whatsapp", data=unsigned).status_code == 403

    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": customer.public_id, "templateId": template["id"]},
    )
    out_sid = r.get_json()["providerMessageId"]
    assert settle(out_sid).status_code == 204
    assert settle(out_sid).status_code == 204  # a repeat is recorded once
    sent = db.session.scalar(
        select(WhatsAppMessage).where(WhatsAppMessage.provider_message_id == out_sid)
    )
    assert sent.delivery_status == "delivered"
    assert db.session.scalar(select(Activity.notes).where(Activity.id == sent.activity_id)) == (
        "sent; delivered"
    )


def test_stop_on_whatsapp_opts_out_of_whatsapp_only(
    call, manager, make_customer, opt_in, inbound, template, fake_twilio
):
    customer = make_customer(phone="+12125550230")
    opt_in(customer)
    opt_in(customer, channel="sms")
    r = inbound("+12125550230", "Stop")
    assert r.status_code == 200 and "Reply START" in r.get_data(as_text=True)
    assert consent.status_of("whatsapp", "+12125550230") == "opted_out"
    assert consent.is_suppressed("whatsapp", "+12125550230")
    assert consent.status_of("sms", "+12125550230") == "opted_in"
    assert not consent.is_suppressed("sms", "+12125550230")
    before = len(fake_twilio.received)
    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": customer.public_id, "templateId": template["id"]},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert len(fake_twilio.received) == before
    r = call(
        manager,
        "post",
        "/api/sales/marketing/sms/send",
        json={"customerId": customer.public_id, "body": "still by text"},
    )
    assert r.status_code == 201, r.get_json()
    assert fake_twilio.received[-1].to == "+12125550230"

    inbound("+12125550230", "START")
    assert consent.status_of("whatsapp", "+12125550230") == "opted_in"


def test_a_sentence_with_stop_is_not_an_opt_out(make_customer, opt_in, inbound):
    customer = make_customer(phone="+12125550231")
    opt_in(customer)
    inbound("+12125550231", "please don't stop sending the allocations")
    assert consent.status_of("whatsapp", "+12125550231") == "opted_in"


def test_bad_input_is_a_4xx_naming_the_field(call, manager, rep, make_customer, fake_twilio):
    customer = make_customer(phone="+12125550240")
    r = call(manager, "post", "/send", json={"customerId": customer.public_id})
    assert r.status_code == 422 and "body" in r.get_json()["error"]["fields"]
    r = call(manager, "post", "/send", json={"customerId": "cus_nope", "body": "x"})
    assert r.status_code == 422 and "customerId" in r.get_json()["error"]["fields"]
    r = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "templateId": "wat_x"}
    )
    assert r.status_code in (409, 422)
    r = call(manager, "post", "/send", json={"listId": "lst_nope", "templateId": "wat_x"})
    assert r.status_code == 422 and "listId" in r.get_json()["error"]["fields"]
    bad = {"name": "x", "contentSid": "HXnope"}
    r = call(manager, "post", "/templates", json=bad)
    assert r.status_code == 422 and "contentSid" in r.get_json()["error"]["fields"]
    good = {"name": "x", "contentSid": "HX" + "1" * 32}
    assert call(rep, "post", "/templates", json=good).status_code == 403
    assert fake_twilio.received == []


def test_api_needs_login(client):
    r = client.post("/api/sales/marketing/whatsapp/send", json={"customerId": "x", "body": "y"})
    assert r.status_code == 401


def test_customer_page_panel_sends_a_template_and_free_text_in_the_window(
    client, login, manager, make_customer, opt_in, template, inbound, fake_twilio
):
    customer = make_customer(phone="+12125550250", name="Delta")
    opt_in(customer)
    login(manager)
    page = client.get(f"/sales/customers/{customer.public_id}")
    html = page.get_data(as_text=True)
    assert 'data-testid="whatsapp-panel"' in html and "window closed: templates only" in html
    assert 'data-testid="whatsapp-body"' not in html
    url = f"/sales/marketing/whatsapp/customers/{customer.public_id}/send"
    r = client.post(url, data={"csrf_token": csrf_from(html), "template_id": template["id"]})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert fake_twilio.received[-1].body == "Hello Delta, the North allocation is open."

    r = client.post(url, data={"csrf_token": csrf_from(html), "body": "free text"})
    assert r.status_code == 409 and "approved template" in r.get_data(as_text=True)

    inbound("+12125550250", "hi!")
    html = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert "window open until" in html and 'data-testid="whatsapp-body"' in html
    r = client.post(url, data={"csrf_token": csrf_from(html), "body": "Thanks, Delta"})
    assert r.status_code == 302
    assert fake_twilio.received[-1].body == "Thanks, Delta"
    assert client.post(url, data={"body": "no token"}).status_code in (400, 403)
