"""Providers' documented refusals of a whole request or of the account, end to end through
the engine and the official SDKs against the fakes: the campaign stops with the reason
(shown on its page), every row of the refused batch records it, none stays ``sending``,
no address is suppressed, and a resumed campaign goes on once the account is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from sqlalchemy import select

from app.extensions import db
from app.messaging import delivery
from app.messaging.consent import is_suppressed
from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.conftest import app_settings, sendgrid_settings
from tests.fakes.resend import FakeResend
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, FakeSes

SES_SENDER = "news@decant.test"


@pytest.fixture
def resend_fake() -> Iterator[FakeResend]:
    with FakeResend() as fake:
        yield fake


@pytest.fixture
def ses_fake() -> Iterator[FakeSes]:
    with FakeSes() as fake:
        fake.verify(SES_SENDER)
        yield fake


@pytest.fixture
def sendgrid_fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


def uses(name: str, key: str | None = None):
    """Run the test with ``name`` as the email provider (and this API key)."""
    return pytest.mark.parametrize("provider", [(name, key)], indirect=True, ids=[name])


@pytest.fixture
def provider(request) -> tuple[str, str | None]:
    return request.param


@pytest.fixture
def app_config(request, database_url, provider):
    """The provider the test ``uses``, pointed at its fake."""
    name, key = provider
    if name == "resend":
        fake = request.getfixturevalue("resend_fake")
        return app_settings(
            database_url,
            EMAIL_PROVIDER="resend",
            RESEND_API_KEY=key or fake.api_key,
            RESEND_BASE_URL=fake.url,
            EMAIL_BATCH_SIZE=10,
        )
    if name == "ses":
        fake = request.getfixturevalue("ses_fake")
        return app_settings(
            database_url,
            EMAIL_PROVIDER="ses",
            AWS_REGION=REGION,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            SES_ENDPOINT_URL=fake.url,
            FROM_EMAIL=f"Decant Wines <{SES_SENDER}>",
        )
    return sendgrid_settings(database_url, request.getfixturevalue("sendgrid_fake"))


def _campaign(call, user, make_list, customers) -> Campaign:
    r = call(
        user,
        "post",
        "/email/send",
        json={
            "listId": make_list(user, customers),
            "subject": "News for {{ customer_name }}",
            "html": "<p>Hello {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()
    return db.session.scalar(select(Campaign).where(Campaign.public_id == r.get_json()["id"]))


def _rows(campaign: Campaign) -> list[EmailMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(EmailMessage).where(EmailMessage.campaign_id == campaign.id))
    )


@uses("resend")
def test_resend_unverified_domain_stops_the_campaign_with_the_reason(
    app, client, login, manager, make_customer, make_list, call, resend_fake
):
    resend_fake.unverify("example.com")  # FROM_EMAIL's domain
    customers = [make_customer("North") for _ in range(25)]
    campaign = _campaign(call, manager, make_list, customers)
    db.session.refresh(campaign)
    assert campaign.status == "paused"
    assert "domain is not verified" in campaign.last_error
    rows = _rows(campaign)
    assert not [r for r in rows if r.status == "sending"]
    refused = [r for r in rows if r.error_message]
    assert len(refused) == 10  # the batch that met the refusal, each with the reason
    assert all("domain is not verified" in r.error_message for r in refused)
    assert all(r.status == "queued" for r in rows)  # to go once the domain is verified
    assert resend_fake.received == [] and len(resend_fake.request_headers) == 1
    assert not any(is_suppressed("email", c.email) for c in customers)
    # The page says why it stopped, and offers Resume (not Pause).
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{campaign.public_id}").get_data(as_text=True)
    assert "domain is not verified" in page
    assert ">Resume<" in page and ">Pause<" not in page
    api = call(manager, "get", f"/campaigns/{campaign.public_id}").get_json()
    assert api["status"] == "paused" and "domain is not verified" in api["lastError"]
    # Verified: resuming sends everyone once.
    resend_fake.unverified_domains.clear()
    assert call(manager, "post", f"/campaigns/{campaign.public_id}/resume").status_code == 200
    db.session.refresh(campaign)
    assert campaign.status == "sent" and campaign.last_error is None
    assert sorted(t for m in resend_fake.received for t in m.to) == sorted(
        c.email for c in customers
    )


@uses("resend", key="re_revoked_key")
def test_resend_refused_key_stops_the_campaign(
    app, manager, make_customer, make_list, call, resend_fake
):
    customers = [make_customer("North") for _ in range(3)]
    campaign = _campaign(call, manager, make_list, customers)
    db.session.refresh(campaign)
    assert campaign.status == "paused" and "API key is invalid" in campaign.last_error
    rows = _rows(campaign)
    assert {r.status for r in rows} == {"queued"}
    assert all("API key is invalid" in r.error_message for r in rows)


@uses("resend", key="re_revoked_key")
def test_resend_refused_key_fails_a_single_send_with_the_reason(
    app, manager, make_customer, call, resend_fake
):
    customer = make_customer("North")
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Hi",
            "html": "<p>Hi</p>",
        },
    )
    body = r.get_json()
    assert body["status"] == "failed" and "API key is invalid" in body["error"]["message"]


@uses("ses")
def test_ses_sandbox_refusal_fails_that_row_and_suppresses_nobody(
    app, manager, make_customer, make_list, call, ses_fake
):
    ses_fake.sandbox = True
    verified = make_customer("North", email="tester@decant.test")  # its domain is verified
    stranger = make_customer("North", email="stranger@example.com")
    ses_fake.verify("decant.test")
    campaign = _campaign(call, manager, make_list, [verified, stranger])
    db.session.refresh(campaign)
    assert campaign.status == "sent"
    rows = {r.to_address: r for r in _rows(campaign)}
    assert rows["tester@decant.test"].status == "sent"
    refused = rows["stranger@example.com"]
    assert refused.status == "failed" and refused.error_code == "MessageRejected"
    assert "sandbox" in refused.error_message
    assert not is_suppressed("email", "stranger@example.com")


@pytest.mark.parametrize(
    ("state", "code"),
    [("suspended", "AccountSuspendedException"), ("paused", "SendingPausedException")],
)
@uses("ses")
def test_ses_account_stopped_stops_the_campaign(
    app, manager, make_customer, make_list, call, ses_fake, state, code
):
    ses_fake.account_state = state
    customers = [make_customer("North") for _ in range(3)]
    campaign = _campaign(call, manager, make_list, customers)
    db.session.refresh(campaign)
    assert campaign.status == "paused" and code in campaign.last_error
    rows = _rows(campaign)
    assert not [r for r in rows if r.status in ("sending", "failed", "sent")]
    assert [r.error_code for r in rows if r.error_code] == [code]  # SES: one per request
    assert not any(is_suppressed("email", c.email) for c in customers)
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    assert not [m for m in backend.sent_messages if m.source.endswith(SES_SENDER)]


@uses("sendgrid")
def test_one_message_per_address_in_a_campaign(
    app, manager, make_customer, make_list, call, sendgrid_fake
):
    """Customers sharing an address (whatever its case) get one message; SendGrid would
    refuse the whole request otherwise."""
    first = make_customer("North", email="buyer@bistro.example")
    second = make_customer("North", email="Buyer@Bistro.example")
    other = make_customer("North")
    campaign = _campaign(call, manager, make_list, [first, second, other])
    db.session.refresh(campaign)
    assert campaign.status == "sent"
    assert sorted(m.to for m in sendgrid_fake.received) == sorted(
        ["buyer@bistro.example", other.email]
    )
    rows = {r.customer_id: r for r in _rows(campaign)}
    assert rows[first.id].status == "sent"
    assert (rows[second.id].status, rows[second.id].error_message) == (
        "suppressed",
        "duplicate address",
    )
    assert not is_suppressed("email", "buyer@bistro.example")
    counts: dict[str, Any] = delivery.status_counts(campaign)
    assert counts["sent"] == 2 and counts["suppressed"] == 1
