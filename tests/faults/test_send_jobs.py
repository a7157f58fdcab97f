"""A campaign sent by two real RQ workers at once (``CAMPAIGN_SEND_JOBS``, default 2):
every recipient exactly once, the campaign marked sent, and a pause between batches
stops both jobs. SQLite and PostgreSQL (the claim takes a row once on both)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select

from app.messaging.models import Campaign
from tests.conftest import app_settings
from tests.faults.conftest import (
    API,
    InFlightSendGrid,
    campaign_state,
    received,
    report,
    sendgrid_settings,
    tally,
    wait_for,
    wait_progressing,
)

BATCH = 50


@pytest.fixture
def fake():
    server = InFlightSendGrid(delay=0.03).start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, redis_url, fake):
    return app_settings(
        database_url,
        REDIS_URL=redis_url,
        **sendgrid_settings(fake),
    )


def worker_settings(fake) -> dict[str, object]:
    return {
        **sendgrid_settings(fake),
        "EMAIL_BATCH_SIZE": BATCH,
        "EMAIL_RATE_LIMIT": "100000/1",
    }


def launch(client, token_headers, user, list_id: str) -> Campaign:
    from app.extensions import db

    r = client.post(
        f"{API}/email/send",
        json={"listId": list_id, "subject": "Allocation", "html": "<p>{{ customer_name }}</p>"},
        headers=token_headers(user),
    )
    assert r.status_code == 202, r.get_json()
    return db.session.scalar(select(Campaign).order_by(Campaign.id.desc()))


def start_two_workers(app, group) -> None:
    """Two workers, both listening before the campaign goes (a slow start would let the
    first send it all)."""
    from rq import Worker

    from app.jobs import redis_connection

    for _ in range(2):
        group.start(queues="campaigns")
    conn = redis_connection(app)
    assert wait_for(lambda: len(Worker.all(connection=conn)) >= 2, 120), group.output()


@pytest.mark.redis
def test_two_workers_send_one_campaign_together_each_recipient_once(
    app, client, manager, token_headers, seed_list, workers, fake
):
    n = 1500
    list_id, emails = seed_list(manager, n)
    group = workers(**worker_settings(fake))
    started = time.monotonic()
    try:
        start_two_workers(app, group)
        campaign = launch(client, token_headers, manager, list_id)
        done = wait_progressing(
            lambda: campaign_state(campaign.id)[0] == "sent",
            lambda: len(fake.received),
            interval=0.3,
        )
        status, counts = campaign_state(campaign.id)
        result = tally(emails, received(fake))
        line = report(
            "two-send-jobs",
            {
                **result,
                "max_in_flight": fake.max_in_flight,
                "secs": round(time.monotonic() - started, 1),
            },
        )
        assert done, f"{status} {counts} {line}\n{group.output()}"
        assert result["duplicates"] == 0 and result["missing"] == 0, line
        assert result["unexpected"] == 0 and counts["sent"] == n, (counts, line)
        # the campaign's two batch jobs were at the provider at the same time
        assert fake.max_in_flight >= 2, f"one job sent it all: {line}\n{group.output()}"
    finally:
        group.stop_all()


@pytest.mark.redis
def test_a_pause_stops_both_jobs_between_batches_and_a_resume_finishes_once(
    app, client, manager, token_headers, seed_list, workers, fake
):
    n = 3000
    fake.delay = 0.1  # 30 batches a worker: the pause lands mid-campaign
    list_id, emails = seed_list(manager, n)
    group = workers(**worker_settings(fake))
    headers = token_headers(manager)
    try:
        start_two_workers(app, group)
        campaign = launch(client, token_headers, manager, list_id)
        assert wait_for(lambda: fake.max_in_flight >= 2 and len(fake.received) >= 300, 120), (
            f"both jobs never sent: {len(fake.received)}\n{group.output()}"
        )
        r = client.post(f"{API}/campaigns/{campaign.public_id}/pause", headers=headers)
        assert r.status_code == 200, r.get_json()
        # each job finishes the batch it holds, then stops: nothing claimed any more
        stopped = wait_for(lambda: campaign_state(campaign.id)[1]["sending"] == 0, 30)
        at_pause = len(fake.received)
        time.sleep(1.5)
        status, counts = campaign_state(campaign.id)
        assert stopped and status == "paused", (status, counts)
        assert len(fake.received) == at_pause < n, "a job kept sending after the pause"
        assert counts["queued"] == n - at_pause and counts["sent"] == at_pause, counts

        r = client.post(f"{API}/campaigns/{campaign.public_id}/resume", headers=headers)
        assert r.status_code == 200, r.get_json()
        done = wait_progressing(
            lambda: campaign_state(campaign.id)[0] == "sent",
            lambda: len(fake.received),
            interval=0.3,
        )
        status, counts = campaign_state(campaign.id)
        result = tally(emails, received(fake))
        line = report("pause-two-send-jobs", {**result, "at_pause": at_pause})
        assert done, f"{status} {counts} {line}\n{group.output()}"
        assert result["duplicates"] == 0 and result["missing"] == 0, line
        assert counts["sent"] == n and max(Counter(received(fake)).values()) == 1, line
    finally:
        group.stop_all()
