"""What the host CRM hears about an email: sent, opened, clicked, delivered and bounced
(from the provider's signed webhook), unsubscribed, and the consent change it makes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.outbound import services
from blueprints.email.models import EmailMessage
from tests.conftest import app_settings
from tests.fakes.crm_receiver import CrmReceiver
from tests.fakes.resend import signed_webhook

RESEND_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
RESEND_HOOK = "/api/sales/marketing/webhooks/resend"


@pytest.fixture
def app_config(database_url):
    return app_settings(database_url, RESEND_WEBHOOK_SECRET=RESEND_SECRET)


@pytest.fixture
def receiver(app) -> Iterator[CrmReceiver]:
    with CrmReceiver() as r:
        _, r.secret = services.create_endpoint(
            r.url,
            [
                "message.sent",
                "message.delivered",
                "message.bounced",
                "message.opened",
                "message.clicked",
                "message.unsubscribed",
                "consent.changed",
            ],
        )
        yield r


def _link(message: EmailMessage, kind: str) -> str:
    found = re.findall(rf'"http://localhost(/email/{kind}/[^"]+)"', message.html)
    return found[0]


def _provider_event(client, message: EmailMessage, kind: str, n: int, **data) -> None:
    event = {
        "type": kind,
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "email_id": "re1",
            "to": [message.to_address],
            "tags": {"message_id": message.public_id},
            **data,
        },
    }
    body, headers = signed_webhook(RESEND_SECRET, event, msg_id=f"msg_{n}")
    assert client.post(RESEND_HOOK, data=body, headers=headers).status_code == 200


def test_an_email_s_life_reaches_the_crm_signed(client, call, manager, make_customer, receiver):
    customer = make_customer(email="ann@shop.example")
    html = '<p>Hi</p><a href="https://shop.example/a">A</a>'
    r = call(
        manager,
        "post",
        "/email/send",
        json={"to": customer.email, "customerId": customer.public_id, "subject": "S", "html": html},
    )
    assert r.status_code == 201
    message = EmailMessage.query.one()
    [sent] = receiver.events("message.sent")
    assert sent.payload["data"] == {
        "channel": "email",
        "messageId": message.public_id,
        "customerId": customer.public_id,
    }
    client.get(_link(message, "t/o"))
    [opened] = receiver.events("message.opened")
    assert opened.payload["data"]["messageId"] == message.public_id
    client.get(_link(message, "t/c"))
    [clicked] = receiver.events("message.clicked")
    assert clicked.payload["data"]["url"] == "https://shop.example/a"
    _provider_event(client, message, "email.delivered", 1)
    [delivered] = receiver.events("message.delivered")
    assert delivered.payload["data"]["customerId"] == customer.public_id
    _provider_event(client, message, "email.bounced", 2, bounce={"type": "Permanent"})
    [bounced] = receiver.events("message.bounced")
    assert bounced.payload["data"]["messageId"] == message.public_id
    client.post(_link(message, "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    [unsubscribed] = receiver.events("message.unsubscribed")
    assert unsubscribed.payload["data"]["messageId"] == message.public_id
    changes = [e.payload["data"] for e in receiver.events("consent.changed")]
    assert {"status": "opted_out", "channel": "email"}.items() <= changes[-1].items()
    assert all(e.verified for e in receiver.received)
