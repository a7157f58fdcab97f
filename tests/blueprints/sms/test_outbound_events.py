"""What the host CRM hears about texts: sent, delivered, bounced, received, and consent
changed when a customer texts STOP (through the signed Twilio webhook)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.outbound import services
from blueprints.sms.models import SmsMessage
from tests.blueprints.sms.conftest import OUR_NUMBER, status_callback
from tests.fakes.crm_receiver import CrmReceiver


@pytest.fixture
def receiver(app) -> Iterator[CrmReceiver]:
    with CrmReceiver() as r:
        _, r.secret = services.create_endpoint(
            r.url,
            [
                "message.sent",
                "message.delivered",
                "message.bounced",
                "sms.received",
                "consent.changed",
            ],
        )
        yield r


def test_stop_by_text_tells_the_crm_consent_changed(inbound, make_customer, opt_in, receiver):
    customer = make_customer(phone="+12125550140")
    opt_in(customer)
    receiver.received.clear()  # the opt-in's own consent.changed
    r = inbound("+12125550140", "STOP")
    assert r.status_code == 200
    [changed] = receiver.events("consent.changed")
    assert changed.verified
    assert changed.payload["data"]["status"] == "opted_out"
    assert changed.payload["data"]["channel"] == "sms"
    assert changed.payload["data"]["address"] == "+12125550140"
    assert changed.payload["data"]["customerId"] == customer.public_id
    [received] = receiver.events("sms.received")
    assert received.verified
    stored = SmsMessage.query.filter_by(direction="inbound").one()
    assert received.payload["data"]["messageId"] == stored.public_id
    assert received.payload["data"]["body"] == "STOP"
    assert received.payload["data"]["from"] == "+12125550140"
    assert received.payload["data"]["to"] == OUR_NUMBER


def test_a_text_sent_then_delivered_then_one_bounced(
    client, call, manager, make_customer, opt_in, fake_twilio, receiver
):
    customer = make_customer(phone="+12125550141")
    opt_in(customer)
    doc = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "hi"})
    doc = doc.get_json()
    [sent] = receiver.events("message.sent")
    assert sent.verified
    assert sent.payload["data"] == {
        "channel": "sms",
        "messageId": doc["id"],
        "customerId": customer.public_id,
    }
    status_callback(client, fake_twilio, doc["providerMessageId"], "delivered")
    [delivered] = receiver.events("message.delivered")
    assert delivered.payload["data"]["messageId"] == doc["id"]
    other = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "x"})
    other = other.get_json()
    status_callback(client, fake_twilio, other["providerMessageId"], "undelivered", 30003)
    [bounced] = receiver.events("message.bounced")
    assert bounced.verified
    assert bounced.payload["data"]["messageId"] == other["id"]
    assert bounced.payload["data"]["errorCode"] == "30003"
