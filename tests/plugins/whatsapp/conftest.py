"""WhatsApp plug-in tests: the package installed like any other (found through its entry
point), Twilio's SDK talking to the local fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.extensions import db
from tests.conftest import app_settings
from tests.fakes.twilio import FakeTwilio

API = "/api/sales/marketing/whatsapp"
INBOUND = "/api/sales/marketing/webhooks/whatsapp"
STATUS = INBOUND + "/status"
PUBLIC = "https://decant.example"
SENDER = "+14155238886"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def app_config(database_url: str, fake_twilio: FakeTwilio) -> dict[str, Any]:
    return app_settings(
        database_url,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_PHONE_NUMBER="+15005550006",
        TWILIO_BASE_URL=fake_twilio.url,
        PUBLIC_BASE_URL=PUBLIC,
        SMS_RATE_LIMIT="1000/1",
        WHATSAPP_FROM=SENDER,
        WHATSAPP_RATE_LIMIT="1000",
    )


@pytest.fixture
def opt_in(app):
    from app.messaging.consent import record

    def do(customer, status: str = "opted_in", channel: str = "whatsapp") -> None:
        record(channel, customer.phone, status, source="test", customer_id=customer.id)
        db.session.commit()

    return do


@pytest.fixture
def call(client, token_headers):
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        url = path if path.startswith("/api/") else API + path
        return client.open(url, method=method.upper(), headers=cache[user.id], **kwargs)

    return do


@pytest.fixture
def inbound(client, fake_twilio):
    """POST a signed inbound WhatsApp message as Twilio would (it opens the window)."""

    def do(phone: str, body: str, **extra: str):
        fields, headers = fake_twilio.whatsapp_inbound(
            PUBLIC + INBOUND, "whatsapp:" + phone, "whatsapp:" + SENDER, body, **extra
        )
        return client.post(INBOUND, data=fields, headers=headers)

    return do


@pytest.fixture
def template(call, manager, fake_twilio):
    """An approved template known to the fake (Twilio) and recorded in Decant."""
    sid = fake_twilio.add_content("Hello {{1}}, the {{2}} allocation is open.")
    r = call(
        manager,
        "post",
        "/templates",
        json={
            "name": "Allocation",
            "contentSid": sid,
            "variables": {"1": "{{ customer_name }}", "2": "{{ territory }}"},
            "preview": "Hello {{1}}, the {{2}} allocation is open.",
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.fixture
def settle(client, fake_twilio):
    """POST, signed, the final status callback Twilio would send for a message sid."""

    def do(sid: str):
        url, fields, headers = fake_twilio.settle_request(sid)
        return client.post(url.removeprefix(PUBLIC), data=fields, headers=headers)

    return do
