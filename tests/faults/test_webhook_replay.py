"""One provider event delivered five times at once (a live threaded server, five threads
released together): exactly one effect — one WebhookEvent row, one inbound message, one
timeline activity — and every delivery answered 200 (a provider retries anything else)."""

from __future__ import annotations

import threading

import pytest
import requests
from sqlalchemy import func, select

from app.crm.models import Activity
from app.extensions import db
from blueprints.sms.models import SmsMessage
from blueprints.webhooks.models import WebhookEvent
from tests.conftest import app_settings
from tests.fakes.twilio import signed_inbound_request
from tests.faults.conftest import report

PUBLIC = "https://decant.example"
INBOUND = "/api/sales/marketing/webhooks/twilio"
OUR_NUMBER = "+15005550006"
AUTH_TOKEN = "f" * 32
COPIES = 5


@pytest.fixture
def app_config(database_url):
    return app_settings(
        database_url,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_PHONE_NUMBER=OUR_NUMBER,
        TWILIO_BASE_URL="http://127.0.0.1:1",  # never called here
        PUBLIC_BASE_URL=PUBLIC,
    )


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_same_inbound_text_five_times_concurrently_has_one_effect(app, live_server, make_customer):
    customer = make_customer("North")
    fields, headers = signed_inbound_request(
        AUTH_TOKEN,
        PUBLIC + INBOUND,
        {
            "From": customer.phone,
            "To": OUR_NUMBER,
            "Body": "Is the 2019 back?",
            "AccountSid": "AC" + "1" * 32,
        },
    )
    db.session.remove()
    barrier = threading.Barrier(COPIES)
    answers: list[int | str] = []
    lock = threading.Lock()

    def deliver() -> None:
        barrier.wait(timeout=10)
        try:
            code: int | str = requests.post(
                live_server + INBOUND, data=fields, headers=headers, timeout=20
            ).status_code
        except requests.RequestException as exc:
            code = type(exc).__name__
        with lock:
            answers.append(code)

    threads = [threading.Thread(target=deliver) for _ in range(COPIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    db.session.expire_all()
    counts = {
        "answers": sorted(answers, key=str),
        "webhook_events": count(WebhookEvent, WebhookEvent.provider == "twilio"),
        "inbound_messages": count(SmsMessage, SmsMessage.direction == "inbound"),
        "activities": count(Activity, Activity.customer_id == customer.id),
    }
    line = report("webhook-replay", counts)
    assert counts["answers"] == [200] * COPIES, line
    assert counts["webhook_events"] == 1, line
    assert counts["inbound_messages"] == 1, line
    assert counts["activities"] == 1, line
