"""Sending through Amazon SES v2 (boto3) against moto's server, end to end through the app:
EMAIL_PROVIDER=ses with AWS settings and SES_ENDPOINT_URL pointing at moto, the sender
identity verified first. What arrived is read from moto's own sent-message store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.conftest import app_settings
from tests.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, FakeSes

SENDER = "news@decant.test"


@pytest.fixture(scope="module")
def ses() -> Iterator[FakeSes]:
    with FakeSes() as fake:
        fake.verify(SENDER)
        yield fake


@pytest.fixture
def app_config(database_url, ses):
    return app_settings(
        database_url,
        EMAIL_PROVIDER="ses",
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        SES_ENDPOINT_URL=ses.moto_url,
        FROM_EMAIL=f"Decant Wines <{SENDER}>",
    )


def moto_sent(to: str) -> list[Any]:
    """Messages moto's SES backend accepted for ``to`` (SES v2 sends go through v1's store)."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [m for m in backend.sent_messages if to in m.destinations.get("ToAddresses", [])]


def test_sender_identity_is_verified(ses):
    listed = ses.client().list_email_identities()["EmailIdentities"]
    assert SENDER in {i["IdentityName"] for i in listed}
    # moto reports VerifiedForSendingStatus False, but creating the identity is what
    # lets it send: its backend is the authority here.
    assert ses_backends[DEFAULT_ACCOUNT_ID][REGION]._is_verified_address(SENDER)


def test_single_send_arrives_at_ses(app, manager, make_customer, call):
    customer = make_customer("North", email="ses-single@example.com")
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Spring list for {{ customer_name }}",
            "html": "<p>Hello {{ customer_name }}</p>",
        },
    )
    body = r.get_json()
    assert r.status_code == 201 and body["status"] == "sent", body
    assert body["provider"] == "ses"

    [mail] = moto_sent(customer.email)
    assert SENDER in mail.source
    assert mail.subject == f"Spring list for {customer.name}"
    assert f"Hello {customer.name}" in mail.body
    row = EmailMessage.query.one()
    assert row.provider == "ses" and row.provider_message_id == mail.id


def test_bulk_campaign_to_a_small_list_completes(app, manager, make_customer, make_list, call):
    customers = [make_customer("North", email=f"ses-bulk{i}@example.com") for i in range(12)]
    list_id = make_list(manager, customers)
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "listId": list_id,
            "subject": "News for {{ customer_name }}",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()

    campaign = db.session.get(Campaign, EmailMessage.query.first().campaign_id)
    counts = delivery.status_counts(campaign)
    assert campaign.status == "sent", counts
    assert counts["sent"] == len(customers) and campaign.recipients_total == len(customers)
    ids = {}
    for customer in customers:
        [mail] = moto_sent(customer.email)  # exactly once each
        assert mail.subject == f"News for {customer.name}"
        ids[customer.email] = mail.id
    rows = EmailMessage.query.filter_by(campaign_id=campaign.id).all()
    assert {r.to_address: r.provider_message_id for r in rows} == ids
    assert all(r.provider == "ses" and r.activity_id for r in rows)
