"""Email provider failover end to end: ``EMAIL_PROVIDERS=sendgrid,ses``, campaigns through
the engine, SendGrid's SDK to its fake and boto3 to moto's SES behind the recording
proxy; the campaign page and API show which provider sent what and when the breaker
tripped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from app import create_app
from app.extensions import db
from app.messaging import delivery
from app.messaging.consent import is_suppressed
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import sending
from blueprints.email.failover import ProviderBreakerEvent
from blueprints.email.models import EmailMessage
from providers.email.failover import FailoverEmailProvider, RedisStore
from tests.conftest import app_settings, sendgrid_settings
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, FakeSes

SENDER = "news@decant.test"


@pytest.fixture(scope="module")
def ses() -> Iterator[FakeSes]:
    with FakeSes() as fake:
        fake.verify(SENDER)
        yield fake


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(max_hang=3.0) as fake:
        yield fake


@pytest.fixture
def settings(request):
    return getattr(request, "param", {})


@pytest.fixture
def app_config(database_url, sendgrid, ses, settings):
    ses.received.clear()
    ses.clear_script()
    return sendgrid_settings(
        database_url,
        sendgrid,
        EMAIL_PROVIDERS="sendgrid,ses",
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        SES_ENDPOINT_URL=ses.url,
        FROM_EMAIL=f"Decant Wines <{SENDER}>",
        **{
            "EMAIL_BATCH_SIZE": 5,
            "EMAIL_BREAKER_FAILURES": "2",
            "EMAIL_BREAKER_COOLDOWN": "600",
            **settings,
        },
    )


def with_settings(**values):
    return pytest.mark.parametrize("settings", [values], indirect=True)


def start_campaign(call, manager, make_customer, make_list, n: int, prefix: str) -> Campaign:
    customers = [make_customer("North", email=f"{prefix}{i}@example.com") for i in range(n)]
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "listId": make_list(manager, customers),
            "subject": "News for {{ customer_name }}",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()
    return db.session.scalars(db.select(Campaign)).one()


def received(sendgrid: FakeSendGrid, ses: FakeSes) -> dict[str, list[str]]:
    """Each address with the providers that delivered it (one entry per delivery)."""
    got: dict[str, list[str]] = {}
    for mail in sendgrid.received:
        got.setdefault(mail.to, []).append("sendgrid")
    for mail in ses.received:
        for to in mail.to:
            got.setdefault(to, []).append("ses")
    return got


def rows(campaign: Campaign) -> list[EmailMessage]:
    db.session.expire_all()
    return list(EmailMessage.query.filter_by(campaign_id=campaign.id).order_by(EmailMessage.id))


def test_sendgrid_failing_opens_its_breaker_and_ses_sends_the_rest(
    app, manager, make_customer, make_list, call, client, login, sendgrid, ses
):
    sendgrid.fail_next(100, status=503, after=1)  # the first batch goes, then 503s
    campaign = start_campaign(call, manager, make_customer, make_list, 20, "split")

    db.session.refresh(campaign)
    assert campaign.status == "sent", delivery.status_counts(campaign)
    got = received(sendgrid, ses)
    assert sorted(got) == sorted(f"split{i}@example.com" for i in range(20))
    assert all(len(via) == 1 for via in got.values()), got  # each exactly once
    by_row = {r.to_address: r.provider for r in rows(campaign)}
    assert by_row == {to: via[0] for to, via in got.items()}  # recorded per message
    # Batch 1 by SendGrid; 2 and 3 meet a 503 each (the second opens the breaker) and
    # move to SES; batch 4 skips SendGrid.
    assert list(by_row.values()).count("sendgrid") == 5
    assert sendgrid.request_count == 3

    [event] = db.session.scalars(db.select(ProviderBreakerEvent)).all()
    assert (event.provider, event.state) == ("sendgrid", "open")

    data = call(manager, "get", f"/campaigns/{campaign.public_id}").get_json()
    assert data["providers"] == {"ses": 15, "sendgrid": 5}
    assert [(e["provider"], e["state"]) for e in data["breakerEvents"]] == [("sendgrid", "open")]

    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{campaign.public_id}").get_data(as_text=True)
    assert '<td data-provider="ses">15</td>' in page
    assert '<td data-provider="sendgrid">5</td>' in page
    assert 'data-breaker-state="open"' in page and "Service Unavailable" in page


def test_a_refused_recipient_is_not_sent_through_ses(
    app, manager, make_customer, make_list, call, sendgrid, ses
):
    sendgrid.reject("refuse1@example.com")
    campaign = start_campaign(call, manager, make_customer, make_list, 3, "refuse")

    by_row = {r.to_address: (r.status, r.provider) for r in rows(campaign)}
    assert by_row == {
        "refuse0@example.com": ("sent", "sendgrid"),
        "refuse1@example.com": ("failed", "sendgrid"),
        "refuse2@example.com": ("sent", "sendgrid"),
    }
    assert ses.received == []
    assert is_suppressed("email", "refuse1@example.com")  # one suppression list for all


@with_settings(PROVIDER_TIMEOUT="0.5", EMAIL_BREAKER_FAILURES="1")
def test_accepted_then_timed_out_is_retried_through_sendgrid_only(
    app, manager, make_customer, make_list, call, sendgrid, ses
):
    """SendGrid takes the batch but answers after our timeout. The rows wait; while its
    breaker is open they are held (SES takes new work, not them); once it half-opens
    they go through SendGrid again. SES never sends them."""
    sendgrid.accept_then_hang(1, seconds=2.0)
    campaign = start_campaign(call, manager, make_customer, make_list, 3, "unsure")
    first = rows(campaign)
    assert {(r.status, r.provider) for r in first} == {("queued", "sendgrid")}
    assert len(sendgrid.received) == 3 and ses.received == []

    def run_due() -> None:
        db.session.execute(
            update(EmailMessage)
            .where(EmailMessage.campaign_id == campaign.id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        delivery.send_campaign_batches(campaign.id)

    run_due()  # SendGrid's breaker is open: held, not sent elsewhere
    held = rows(campaign)
    assert {(r.status, r.provider, r.error_code) for r in held} == {
        ("queued", "sendgrid", "breaker_open")
    }
    assert ses.received == []

    sending.provider().breakers.cooldown = 0  # the cool-down is over
    run_due()
    done = rows(campaign)
    assert {(r.status, r.provider) for r in done} == {("sent", "sendgrid")}
    assert ses.received == []
    # SendGrid has no idempotency key: its own retry may repeat (as with one provider),
    # but no second provider ever sends these messages.
    got = received(sendgrid, ses)
    assert sorted(got) == [f"unsure{i}@example.com" for i in range(3)]
    assert all(set(via) == {"sendgrid"} for via in got.values()), got
    states = [e.state for e in db.session.scalars(db.select(ProviderBreakerEvent))]
    assert states == ["open", "half_open", "closed"]


def test_an_unknown_provider_name_stops_the_app_at_start(database_url):
    with pytest.raises(RuntimeError, match="EMAIL_PROVIDERS"):
        create_app(app_settings(database_url, EMAIL_PROVIDERS="sendgrid,postmark"))


@pytest.mark.redis
def test_with_redis_the_breakers_live_in_redis(database_url, sendgrid, ses, redis_url):
    """Every worker of a Redis deployment reads and writes the same breaker state."""
    app = create_app(
        sendgrid_settings(
            database_url,
            sendgrid,
            REDIS_URL=redis_url,
            EMAIL_PROVIDERS="sendgrid,ses",
            AWS_REGION=REGION,
            SES_ENDPOINT_URL=ses.url,
        )
    )
    with app.app_context():
        adapter = sending.provider()
        assert isinstance(adapter, FailoverEmailProvider)
        assert isinstance(adapter.breakers.store, RedisStore)
        assert [m.name for m in adapter.members] == ["sendgrid", "ses"]
    without = create_app(app_settings(database_url, EMAIL_PROVIDERS="console"))
    with without.app_context():
        assert sending.provider().name == "console"  # one name: that adapter alone
