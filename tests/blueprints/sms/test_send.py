"""POST /sms/send for one customer, through the engine and the SDK to the fake Twilio."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression, Template
from blueprints.sms.models import SmsMessage
from tests.blueprints.sms.conftest import OUR_NUMBER, PUBLIC, STATUS, status_callback


def test_send_goes_through_twilio_with_status_callback(
    call, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550100")
    opt_in(customer)
    r = call(
        manager,
        "post",
        "/send",
        json={"to": "(212) 555-0100", "customerId": customer.public_id, "body": "Your Rioja is in"},
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["status"] == "sent" and doc["to"] == "+12125550100"
    assert doc["segments"] == 1 and doc["encoding"] == "GSM-7"
    [sent] = fake_twilio.received
    assert (
        sent.to == "+12125550100" and sent.from_ == OUR_NUMBER and sent.body == "Your Rioja is in"
    )
    assert sent.status_callback == PUBLIC + STATUS
    assert doc["providerMessageId"] == sent.sid
    activity = db.session.scalar(select(Activity).where(Activity.customer_id == customer.id))
    assert (
        activity.type == "SMS"
        and activity.direction == "sent"
        and activity.body == "Your Rioja is in"
    )
    assert activity.user_id == manager.id


def test_unicode_mms_and_template(call, manager, make_customer, opt_in, fake_twilio):
    customer = make_customer(phone="+12125550101", name="Bistro Vert")
    opt_in(customer)
    r = call(
        manager,
        "post",
        "/send",
        json={
            "customerId": customer.public_id,
            "body": "Santé 🍷",
            "mediaUrl": "https://img.example/x.jpg",
        },
    )
    assert r.status_code == 201
    assert r.get_json()["encoding"] == "UCS-2" and r.get_json()["mediaUrls"] == [
        "https://img.example/x.jpg"
    ]
    assert fake_twilio.received[-1].media_urls == ["https://img.example/x.jpg"]
    template = Template(type="sms", name="Hello", body="Hi {{customer_name}}, new vintage!")
    db.session.add(template)
    db.session.commit()
    r = call(
        manager,
        "post",
        "/send",
        json={"customerId": customer.public_id, "templateId": template.public_id},
    )
    assert r.status_code == 201 and r.get_json()["body"] == "Hi Bistro Vert, new vintage!"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "12", "body": "x"}, "to"),
        ({"to": "not a number", "body": "x"}, "to"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * (153 * 10 + 1)}, "body"),
        ({"body": "é" * 10 + "🍷" * 340}, "body"),
        ({"templateId": "tpl_nope"}, "templateId"),
        ({}, "body"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    call, manager, make_customer, opt_in, payload, field, fake_twilio
):
    customer = make_customer()
    opt_in(customer)
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, **payload})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert fake_twilio.received == []


def test_unknown_or_hidden_customer_is_422(call, rep, make_customer, opt_in):
    south = make_customer("South")
    opt_in(south)
    for cid in ("cus_unknown", south.public_id):
        r = call(rep, "post", "/send", json={"customerId": cid, "body": "hi"})
        assert r.status_code == 422 and "customerId" in r.get_json()["error"]["fields"]


@pytest.mark.parametrize("state", [None, "unknown", "opted_out"])
def test_no_opt_in_or_opted_out_is_409(call, manager, make_customer, opt_in, state, fake_twilio):
    customer = make_customer()
    if state:
        opt_in(customer, state)
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 0
    assert fake_twilio.received == []


def test_21610_fails_the_message_and_opts_the_number_out(
    call, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550102")
    opt_in(customer)
    fake_twilio.fail_for("+12125550102", 21610)
    r = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    doc = r.get_json()
    assert r.status_code == 201 and doc["status"] == "failed" and doc["errorCode"] == "21610"
    assert "unsubscribed" in doc["errorMessage"]
    supp = db.session.scalar(select(Suppression).where(Suppression.address == "+12125550102"))
    assert supp is not None and supp.reason == "STOP"
    assert consent.status_of("sms", customer.phone) == "opted_out"
    again = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    assert again.status_code == 409


def test_21211_is_permanent(call, manager, make_customer, opt_in, fake_twilio):
    customer = make_customer(phone="+12125550103")
    opt_in(customer)
    fake_twilio.fail_for("+12125550103", 21211)
    doc = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"}
    ).get_json()
    assert doc["status"] == "failed" and doc["errorCode"] == "21211"
    row = db.session.scalar(select(SmsMessage))
    assert row.attempts == 1 and row.next_attempt_at is None


def test_429_is_retried_later_then_sent(app, call, manager, make_customer, opt_in, fake_twilio):
    from app.messaging import delivery

    customer = make_customer(phone="+12125550104")
    opt_in(customer)
    fake_twilio.fail_next(1, status=429, retry_after=7)
    doc = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"}
    ).get_json()
    assert doc["status"] == "queued" and doc["errorCode"] == "20429"
    row = db.session.scalar(select(SmsMessage))
    assert row.next_attempt_at is not None and fake_twilio.received == []
    row.next_attempt_at = None  # time passes
    db.session.commit()
    delivery.send_single("sms", row.id)
    db.session.refresh(row)
    assert row.status == "sent" and len(fake_twilio.received) == 1


def test_status_callbacks_update_the_message_and_activity(
    client, call, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550105")
    opt_in(customer)
    doc = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"}
    ).get_json()
    sid = doc["providerMessageId"]
    assert status_callback(client, fake_twilio, sid, "sent").status_code == 204
    assert status_callback(client, fake_twilio, sid, "delivered").status_code == 204
    assert status_callback(client, fake_twilio, sid, "sent").status_code == 204  # late: no regress
    assert status_callback(client, fake_twilio, sid, "delivered").status_code == 204  # repeat
    row = db.session.scalar(select(SmsMessage))
    assert row.delivery_status == "delivered" and row.delivered_at is not None
    activity = db.session.get(Activity, row.activity_id)
    assert activity.notes.count("delivered") == 1


def test_undelivered_with_error_is_shown(client, call, manager, make_customer, opt_in, fake_twilio):
    customer = make_customer(phone="+12125550106")
    opt_in(customer)
    doc = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"}
    ).get_json()
    status_callback(client, fake_twilio, doc["providerMessageId"], "undelivered", 30003)
    row = db.session.scalar(select(SmsMessage))
    assert row.delivery_status == "undelivered" and row.error_code == "30003"
    assert row.status == "failed"  # the message status says so too, not "sent"
    shown = call(manager, "get", f"/conversations/{doc['conversationId']}").get_json()
    assert shown["messages"][-1]["status"] == "failed"
    assert shown["messages"][-1]["errorMessage"] == "Twilio undelivered: error 30003"


def test_an_undelivered_campaign_text_counts_as_failed(
    client, call, manager, make_customer, opt_in, fake_twilio
):
    customers = [make_customer(phone=f"+1212555016{i}") for i in range(2)]
    for customer in customers:
        opt_in(customer)
    lst = call(manager, "post", "/api/sales/marketing/lists", json={"name": "T"}).get_json()
    call(
        manager,
        "post",
        f"/api/sales/marketing/lists/{lst['id']}/members",
        json={"customerIds": [c.public_id for c in customers]},
    )
    campaign = call(manager, "post", "/send", json={"listId": lst["id"], "body": "hi"}).get_json()
    status_callback(client, fake_twilio, fake_twilio.received[0].sid, "undelivered", 30005)
    counts = call(manager, "get", f"/campaigns/{campaign['id']}").get_json()["counts"]
    assert (counts["sent"], counts["failed"]) == (1, 1)


def test_unsigned_status_callback_is_refused(
    client, call, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer()
    opt_in(customer)
    doc = call(
        manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"}
    ).get_json()
    url, params, headers = fake_twilio.status_callback_request(
        doc["providerMessageId"], "delivered"
    )
    assert client.post(STATUS, data=params).status_code == 403
    assert (
        client.post(STATUS, data={**params, "MessageStatus": "failed"}, headers=headers).status_code
        == 403
    )
    assert db.session.scalar(select(SmsMessage)).delivery_status != "delivered"
