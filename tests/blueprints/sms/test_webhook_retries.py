"""Issue 20 item 4 for Twilio: an inbound STOP or a status callback whose processing
fails (a table refusing writes, for real) is kept, answered 503 and applied when Twilio
retries or the sweep runs; after WEBHOOK_MAX_ATTEMPTS an admin sees it and can retry."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import consent
from blueprints.sms.models import SmsMessage
from blueprints.webhooks import jobs as webhook_jobs
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.sms.conftest import OUR_NUMBER, PUBLIC, status_callback
from tests.conftest import app_settings, csrf_from
from tests.faults.triggers import MESSAGE, inserts_fail

SID = "SM" + "5" * 32
PHONE = "+12125550150"


@pytest.fixture
def app_config(database_url: str, fake_twilio) -> dict[str, Any]:
    return app_settings(
        database_url,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
        TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
        TWILIO_PHONE_NUMBER=OUR_NUMBER,
        TWILIO_BASE_URL=fake_twilio.url,
        PUBLIC_BASE_URL=PUBLIC,
        SMS_RATE_LIMIT="1000/1",
        WEBHOOK_RETRY_SECONDS=0,  # a failed event is due for the sweep at once
        WEBHOOK_MAX_ATTEMPTS=3,
    )


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def event() -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(select(WebhookEvent))


@pytest.fixture
def customer(make_customer, opt_in):
    found = make_customer(phone=PHONE)
    opt_in(found)
    return found


def test_stop_failing_once_is_recorded_when_twilio_retries(inbound, customer):
    with inserts_fail("suppression"):
        first = inbound(PHONE, "STOP", MessageSid=SID)
    assert first.status_code == 503  # Twilio is told to try again
    assert not consent.is_suppressed("sms", PHONE)
    # nothing half-done stays: no inbound message, no activity; the event is kept
    assert count(SmsMessage) == 0 and count(Activity) == 0
    kept = event()
    assert (kept.status, kept.attempts, kept.processed_at) == ("pending", 1, None)
    assert MESSAGE in kept.error
    retried = inbound(PHONE, "STOP", MessageSid=SID)  # the retry: same MessageSid
    assert retried.status_code == 200
    assert consent.is_suppressed("sms", PHONE)
    assert count(SmsMessage, SmsMessage.direction == "inbound") == 1
    assert count(Activity) == 1
    done = event()
    assert done.status == "done" and done.processed_at and done.error is None
    # and a further copy is a duplicate again, with no second effect
    assert inbound(PHONE, "STOP", MessageSid=SID).status_code == 200
    assert count(SmsMessage, SmsMessage.direction == "inbound") == 1


def test_sweep_applies_a_stop_twilio_never_resent(app, inbound, customer):
    with inserts_fail("suppression"):
        assert inbound(PHONE, "Stop please", MessageSid=SID).status_code == 503
        assert webhook_jobs.sweep() == 0  # still failing: attempt 2
        assert event().attempts == 2 and event().status == "pending"
    assert webhook_jobs.sweep() == 1
    assert consent.is_suppressed("sms", PHONE)
    assert event().status == "done"
    assert count(SmsMessage, SmsMessage.direction == "inbound") == 1
    assert webhook_jobs.sweep() == 0  # nothing left to do
    from app.jobs import periodic_jobs

    assert periodic_jobs(app)["webhook-retries"].func == "blueprints.webhooks.jobs:sweep"


def test_status_callback_21610_failing_once_is_applied_on_retry(
    client, call, manager, customer, fake_twilio
):
    sent = call(manager, "post", "/send", json={"customerId": customer.public_id, "body": "Hi"})
    assert sent.status_code == 201, sent.get_json()
    sid = sent.get_json()["providerMessageId"]
    with inserts_fail("suppression"):
        assert status_callback(client, fake_twilio, sid, "undelivered", 21610).status_code == 503
    assert not consent.is_suppressed("sms", PHONE)
    assert status_callback(client, fake_twilio, sid, "undelivered", 21610).status_code == 204
    assert consent.is_suppressed("sms", PHONE)
    db.session.expire_all()
    message = db.session.scalar(select(SmsMessage).where(SmsMessage.provider_message_id == sid))
    assert message.delivery_status == "undelivered" and message.error_code == "21610"


def test_an_event_that_keeps_failing_is_shown_to_admins_who_can_retry_it(
    client, login, admin, manager, token_headers, inbound, customer
):
    with inserts_fail("suppression"):
        assert inbound(PHONE, "STOP", MessageSid=SID).status_code == 503
        webhook_jobs.sweep()
        webhook_jobs.sweep()
    failed = event()
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", 3, None)
    assert webhook_jobs.sweep() == 0  # the sweep gave up: a person decides now

    listed = client.get("/api/sales/marketing/webhook-events", headers=token_headers(admin))
    assert listed.status_code == 200
    [item] = listed.get_json()["items"]
    assert item["provider"] == "twilio" and item["eventId"] == SID
    assert item["status"] == "failed" and MESSAGE in item["error"]
    only_failed = "/api/sales/marketing/webhook-events?status=failed"
    assert client.get(only_failed, headers=token_headers(admin)).get_json()["total"] == 1
    forbidden = client.get("/api/sales/marketing/webhook-events", headers=token_headers(manager))
    assert forbidden.status_code == 403

    login(admin)
    page = client.get("/settings/marketing/webhook-events").get_data(as_text=True)
    assert 'data-status="failed"' in page and MESSAGE in page
    retry_url = f"/settings/marketing/webhook-events/{failed.id}/retry"
    assert client.post(retry_url).status_code == 400  # no CSRF token
    assert client.post(retry_url, data={"csrf_token": csrf_from(page)}).status_code == 302
    assert consent.is_suppressed("sms", PHONE) and event().status == "done"
    after = client.get("/settings/marketing/webhook-events").get_data(as_text=True)
    assert 'data-testid="webhook-event"' not in after
