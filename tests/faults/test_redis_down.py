"""Redis down when a rep sends one email (or text): no 500, the message is recorded as
queued and the API says so (201 with ``status: "queued"``, the row exists and will go
out), and once Redis is back the channel's periodic sweep sends it, exactly once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.messaging.consent import record
from app.models_base import utcnow
from blueprints.email import jobs as email_jobs
from blueprints.email.models import EmailMessage
from blueprints.sms import jobs as sms_jobs
from blueprints.sms.models import SmsMessage
from tests.conftest import app_settings
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.faults.conftest import API, report

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused


@pytest.fixture
def fakes():
    sendgrid, twilio = FakeSendGrid().start(), FakeTwilio().start()
    yield sendgrid, twilio
    sendgrid.stop()
    twilio.stop()


@pytest.fixture
def app_config(database_url, fakes):
    sendgrid, twilio = fakes
    return app_settings(
        database_url,
        REDIS_URL=DEAD_REDIS,
        EMAIL_PROVIDER="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_BASE_URL=sendgrid.url,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_PHONE_NUMBER="+15005550006",
        TWILIO_BASE_URL=twilio.url,
        SMS_RATE_LIMIT="1000/1",
    )


def _redis_back(app, url: str | None) -> None:
    """Point the app at a working Redis (or inline mode with None), dropping old clients."""
    app.config["REDIS_URL"] = url
    app.extensions.pop("decant_redis", None)
    app.extensions.pop("decant_limiter", None)


def _age(model, seconds: int = 3600) -> None:
    """Make queued rows old enough for the sweep (it leaves just-queued ones alone)."""
    db.session.execute(update(model).values(created_at=utcnow() - timedelta(seconds=seconds)))
    db.session.commit()


def test_single_email_and_text_with_redis_down_are_queued_then_swept_once(
    app, client, rep, token_headers, make_customer, fakes
):
    sendgrid, twilio = fakes
    customer = make_customer("North")
    record("sms", customer.phone, "opted_in", source="test", customer_id=customer.id)
    db.session.commit()
    headers = token_headers(rep)

    started = time.monotonic()
    email = client.post(
        f"{API}/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Your order",
            "html": "<p>Hello</p>",
        },
        headers=headers,
    )
    text = client.post(
        f"{API}/sms/send",
        json={"customerId": customer.public_id, "body": "Your order is ready"},
        headers=headers,
    )
    api_seconds = time.monotonic() - started
    assert email.status_code == 201, email.get_data(as_text=True)[:500]
    assert email.get_json()["status"] == "queued", email.get_json()
    assert text.status_code == 201, text.get_data(as_text=True)[:500]
    assert text.get_json()["status"] == "queued", text.get_json()
    assert db.session.scalar(select(EmailMessage.status)) == "queued"
    assert db.session.scalar(select(SmsMessage.status)) == "queued"
    assert sendgrid.received == [] and twilio.received == []

    # Redis still down: the sweep itself must not lose the rows.
    _age(EmailMessage)
    _age(SmsMessage)
    for sweep in (email_jobs.sweep, sms_jobs.sweep):
        with pytest.raises(Exception):  # noqa: B017 - whichever redis error; the row stays
            sweep()
        db.session.rollback()
    assert db.session.scalar(select(EmailMessage.status)) == "queued"

    # Redis is back (inline here: the same enqueue path without a server).
    _redis_back(app, None)
    swept = (email_jobs.sweep(), sms_jobs.sweep())
    again = (email_jobs.sweep(), sms_jobs.sweep())  # nothing left: no second send
    db.session.expire_all()
    emails = [m.to for m in sendgrid.received]
    texts = [m.to for m in twilio.received]
    line = report(
        "redis-down",
        {
            "email_status": email.get_json()["status"],
            "sms_status": text.get_json()["status"],
            "api_seconds": round(api_seconds, 2),
            "swept": swept,
            "swept_again": again,
            "emails_received": len(emails),
            "texts_received": len(texts),
        },
    )
    assert emails == [customer.email], line
    assert texts == [customer.phone], line
    assert db.session.scalar(select(EmailMessage.status)) == "sent", line
    assert db.session.scalar(select(SmsMessage.status)) == "sent", line
    assert swept == (1, 1) and again == (0, 0), line
    assert api_seconds < 10, line


def test_a_single_send_claimed_by_a_dead_worker_goes_out_at_the_next_sweep(
    app, client, rep, token_headers, make_customer, fakes
):
    """The worker that claimed a rep's email died before sending it: the row is left in
    ``sending``. The next sweep puts it back and sends it at once, though it is new."""
    sendgrid, _ = fakes
    _redis_back(app, None)
    customer = make_customer("North")
    answer = client.post(
        f"{API}/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Your order",
            "html": "<p>Hello</p>",
        },
        headers=token_headers(rep),
    )
    assert answer.status_code == 201, answer.get_json()
    assert [m.to for m in sendgrid.received] == [customer.email]
    sendgrid.received.clear()
    # what a killed worker leaves: claimed, never sent (created a moment ago)
    db.session.execute(
        update(EmailMessage).values(
            status="sending",
            claimed_at=utcnow() - timedelta(hours=1),
            sent_at=None,
            created_at=utcnow(),
        )
    )
    db.session.commit()

    assert email_jobs.sweep() == 1
    assert email_jobs.sweep() == 0  # sent: nothing left for a second sweep
    db.session.expire_all()
    assert [m.to for m in sendgrid.received] == [customer.email]
    assert db.session.scalar(select(EmailMessage.status)) == "sent"
