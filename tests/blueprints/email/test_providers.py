"""Each provider through its SDK against its local fake, end to end through the engine:
single and bulk sends, 429 (Retry-After honoured), 5xx and an invalid recipient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.crm.models import Activity
from app.extensions import db
from app.messaging import delivery
from app.messaging.consent import is_suppressed
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from blueprints.email.sending import activity_public_id
from tests.conftest import app_settings
from tests.fakes.resend import FakeResend
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.smtp import SmtpSink

PROVIDERS = ("sendgrid", "resend", "smtp")


class Harness:
    """A started fake with a uniform view: settings, recipients, scripted failures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fake = {"sendgrid": FakeSendGrid, "resend": FakeResend, "smtp": SmtpSink}[name]()
        self.fake.start()

    def settings(self) -> dict[str, object]:
        if self.name == "sendgrid":
            return {"SENDGRID_API_KEY": self.fake.api_key, "SENDGRID_BASE_URL": self.fake.url}
        if self.name == "resend":
            return {"RESEND_API_KEY": self.fake.api_key, "RESEND_BASE_URL": self.fake.url}
        return {"SMTP_HOST": self.fake.host, "SMTP_PORT": self.fake.port, "SMTP_STARTTLS": False}

    def recipients(self) -> list[str]:
        if self.name == "smtp":
            return [r for m in self.fake.received for r in m.rcpt_tos]
        if self.name == "resend":
            return [t for m in self.fake.received for t in m.to]
        return [m.to for m in self.fake.received]

    def headers_of(self, address: str) -> dict[str, str]:
        if self.name == "smtp":
            for m in self.fake.received:
                if address in m.rcpt_tos:
                    return dict(m.parsed().items())
        for m in self.fake.received:
            if self.name == "resend" and address in m.to or getattr(m, "to", None) == address:
                return m.headers
        raise AssertionError(f"{address} not received")

    def fail_next(self, status: int, retry_after: int | None = None) -> None:
        if self.name == "smtp":
            self.fake.hang_next(1, 0.01)  # answered 451: a transient failure
            return
        self.fake.fail_next(status=status, retry_after=retry_after)

    def refuse(self, address: str) -> None:
        if self.name == "sendgrid":
            self.fake.reject(address)
        elif self.name == "smtp":
            self.fake.refuse(address)

    def stop(self) -> None:
        self.fake.stop()


@pytest.fixture(params=PROVIDERS)
def harness(request) -> Iterator[Harness]:
    h = Harness(request.param)
    yield h
    h.stop()


@pytest.fixture
def app_config(database_url, harness):
    return app_settings(
        database_url, EMAIL_PROVIDER=harness.name, EMAIL_BATCH_SIZE=50, **harness.settings()
    )


def _send(call, user, customer, **extra):
    payload = {
        "to": customer.email,
        "customerId": customer.public_id,
        "subject": "Hi",
        "html": "<p>Hello {{ customer_name }}</p>",
    }
    payload.update(extra)
    return call(user, "post", "/email/send", json=payload)


def _due_now(*where) -> None:
    db.session.execute(
        update(EmailMessage).where(*where).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_single_send(app, harness, manager, make_customer, call):
    customer = make_customer("North")
    r = _send(call, manager, customer)
    assert r.status_code == 201 and r.get_json()["status"] == "sent", r.get_json()
    assert r.get_json()["provider"] == harness.name
    assert harness.recipients() == [customer.email]
    headers = {k.lower(): v for k, v in harness.headers_of(customer.email).items()}
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert "/email/unsubscribe/" in headers["list-unsubscribe"]


def test_transient_error_is_retried_after_retry_after(app, harness, manager, make_customer, call):
    customer = make_customer("North")
    harness.fail_next(429, retry_after=120)
    body = _send(call, manager, customer).get_json()
    assert body["status"] == "queued" and body["error"]["code"]
    row = EmailMessage.query.one()
    wait = (row.next_attempt_at.replace(tzinfo=utcnow().tzinfo) - utcnow()).total_seconds()
    assert (100 < wait <= 120) if harness.name != "smtp" else wait > 0
    assert harness.recipients() == []
    delivery.send_single("email", row.id)  # not due yet: nothing happens
    assert harness.recipients() == []
    _due_now(EmailMessage.id == row.id)
    delivery.send_single("email", row.id)
    db.session.refresh(row)
    assert row.status == "sent" and harness.recipients() == [customer.email]


@pytest.mark.parametrize("status", [503])
def test_5xx_then_success(app, harness, manager, make_customer, call, status):
    customer = make_customer("North")
    harness.fail_next(status)
    assert _send(call, manager, customer).get_json()["status"] == "queued"
    _due_now()
    delivery.send_single("email", EmailMessage.query.one().id)
    assert harness.recipients() == [customer.email]


def test_campaign_with_invalid_recipient_and_throttle(
    app, harness, manager, make_customer, make_list, call
):
    bad_address = "bad@nowhere.example" if harness.name != "resend" else "nodot@localhost"
    customers = [make_customer("North") for _ in range(120)]
    bad = make_customer("North", email=bad_address)
    harness.refuse(bad_address)
    list_id = make_list(manager, [*customers, bad])
    harness.fail_next(429, retry_after=60)
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "listId": list_id,
            "subject": "News {{ customer_name }}",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202
    campaign = db.session.get(Campaign, EmailMessage.query.first().campaign_id)
    assert campaign.status == "sending"
    # The first batch was deferred by the 429; later batches went out.
    for _ in range(5):
        _due_now(EmailMessage.campaign_id == campaign.id)
        delivery.send_campaign_batches(campaign.id)
        db.session.refresh(campaign)
        if campaign.status == "sent":
            break
    counts = delivery.status_counts(campaign)
    assert campaign.status == "sent", counts
    assert counts["sent"] == 120 and counts["failed"] == 1, counts
    got = harness.recipients()
    assert sorted(got) == sorted(c.email for c in customers)  # once each
    failed = EmailMessage.query.filter_by(status="failed").one()
    assert failed.to_address == bad_address and failed.error_code
    assert failed.activity_id is None
    assert is_suppressed("email", bad_address)
    # Each message sent is linked to its own timeline entry (set with the sent status).
    for message in EmailMessage.query.filter_by(status="sent"):
        activity = db.session.get(Activity, message.activity_id)
        assert activity.customer_id == message.customer_id
        assert activity.public_id == activity_public_id(message.public_id)
