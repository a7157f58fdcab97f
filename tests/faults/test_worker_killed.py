"""A worker SIGKILLed in the middle of a 5,000-recipient campaign, then a new worker.

Real Redis, real RQ worker subprocesses, the provider fake in this process. The new
worker's watchdog (short CAMPAIGN_STALE_SECONDS / CAMPAIGN_WATCHDOG_SECONDS) resumes the
campaign: every recipient exactly once, except at most the batch that was in flight
(SendGrid has no idempotency key); with Resend's idempotency key, not even that.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.messaging.models import Campaign
from tests.conftest import app_settings
from tests.fakes.resend import FakeResend
from tests.fakes.sendgrid import FakeSendGrid
from tests.faults.conftest import API, campaign_state, report, tally, wait_for

RECIPIENTS = 5000
BATCH = 100


@pytest.fixture(params=["sendgrid", "resend"])
def fake(request):
    cls = {"sendgrid": FakeSendGrid, "resend": FakeResend}[request.param]
    server = cls().start()
    server.name = request.param
    yield server
    server.stop()


def provider_settings(fake) -> dict[str, str]:
    if fake.name == "sendgrid":
        return {"SENDGRID_API_KEY": fake.api_key, "SENDGRID_BASE_URL": fake.url}
    return {"RESEND_API_KEY": fake.api_key, "RESEND_BASE_URL": fake.url}


def received(fake) -> list[str]:
    if fake.name == "resend":
        return [t for m in list(fake.received) for t in m.to]
    return [m.to for m in list(fake.received)]


@pytest.fixture
def app_config(database_url, redis_url, fake):
    return app_settings(
        database_url, REDIS_URL=redis_url, EMAIL_PROVIDER=fake.name, **provider_settings(fake)
    )


@pytest.mark.redis
def test_sigkill_mid_campaign_then_a_new_worker_finishes(
    app, client, manager, token_headers, seed_list, workers, fake
):
    list_id, emails = seed_list(manager, RECIPIENTS)
    group = workers(
        EMAIL_PROVIDER=fake.name,
        EMAIL_BATCH_SIZE=BATCH,
        EMAIL_RATE_LIMIT="100000/1",
        CAMPAIGN_STALE_SECONDS=3,
        CAMPAIGN_WATCHDOG_SECONDS=1,
        **provider_settings(fake),
    )
    started = time.monotonic()
    r = client.post(
        f"{API}/email/send",
        json={
            "listId": list_id,
            "subject": "Spring release",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
        headers=token_headers(manager),
    )
    assert r.status_code == 202, r.get_json()
    campaign_id = _campaign_id()
    first = group.start()
    try:
        # Kill it (worker and work horse) once a good share went out, mid-campaign.
        assert wait_for(lambda: len(received(fake)) >= RECIPIENTS // 4, 60, 0.02), (
            f"the first worker sent {len(received(fake))}\n{group.output()}"
        )
        group.kill(first)
        at_kill = len(received(fake))
        time.sleep(0.5)
        assert len(received(fake)) == at_kill, "something still sends after SIGKILL"
        status, counts = campaign_state(campaign_id)
        # the batch at the provider, and the next one claimed meanwhile
        assert status == "sending" and counts["sending"] <= 2 * BATCH, (status, counts)
        group.start()
        done = wait_for(lambda: campaign_state(campaign_id)[0] == "sent", 150, 0.5)
        status, counts = campaign_state(campaign_id)
        result = tally(emails, received(fake))
        line = report(
            f"worker-killed/{fake.name}",
            {
                **result,
                "at_kill": at_kill,
                "rows": counts,
                "secs": round(time.monotonic() - started, 1),
            },
        )
        assert done, f"campaign not finished: {status} {counts}\n{line}\n{group.output()}"
        assert result["missing"] == 0 and result["unexpected"] == 0, line
        assert counts["sent"] == RECIPIENTS, line
        if fake.name == "resend":
            assert result["duplicates"] == 0, line  # the idempotency key covers the retry
        else:
            assert result["duplicates"] <= BATCH, line
    finally:
        group.stop_all()


def _campaign_id() -> int:
    from app.extensions import db

    return db.session.scalar(select(Campaign.id).order_by(Campaign.id.desc()))
