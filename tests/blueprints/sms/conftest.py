"""SMS tests talk to a local fake of the Twilio API through the real SDK by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.extensions import db
from tests.conftest import app_settings
from tests.fakes.twilio import FakeTwilio, signed_inbound_request

API = "/api/sales/marketing/sms"
INBOUND = "/api/sales/marketing/webhooks/twilio"
STATUS = "/api/sales/marketing/webhooks/twilio/status"
PUBLIC = "https://decant.example"  # what Twilio calls; the test client is "behind a proxy"
OUR_NUMBER = "+15005550006"


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
        TWILIO_PHONE_NUMBER=OUR_NUMBER,
        TWILIO_BASE_URL=fake_twilio.url,
        PUBLIC_BASE_URL=PUBLIC,
        SMS_RATE_LIMIT="1000/1",
    )


@pytest.fixture
def opt_in(app):
    """Record an SMS opt-in (or any state) for a customer."""
    from app.messaging.consent import record

    def do(customer, status: str = "opted_in") -> None:
        record("sms", customer.phone, status, source="test", customer_id=customer.id)
        db.session.commit()

    return do


@pytest.fixture
def call(client, token_headers):
    """``call(user, "post", "/send", json=...)`` with the user's bearer token."""
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        url = path if path.startswith("/api/") else API + path
        return client.open(url, method=method.upper(), headers=cache[user.id], **kwargs)

    return do


@pytest.fixture
def inbound(client, app):
    """POST a signed inbound text as Twilio would (signed for the public URL)."""

    def do(from_: str, body: str, token: str | None = None, **extra: str):
        params = {"From": from_, "To": OUR_NUMBER, "Body": body, "AccountSid": "AC" + "0" * 32}
        params.update(extra)
        fields, headers = signed_inbound_request(
            token or app.config["TWILIO_AUTH_TOKEN"], PUBLIC + INBOUND, params
        )
        return client.post(INBOUND, data=fields, headers=headers)

    return do


def status_callback(client, fake: FakeTwilio, sid: str, status: str, error_code=None):
    """Post the fake's signed status callback through the test client."""
    url, params, headers = fake.status_callback_request(sid, status, error_code)
    assert url == PUBLIC + STATUS
    return client.post(STATUS, data=params, headers=headers)
