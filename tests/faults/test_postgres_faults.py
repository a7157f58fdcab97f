"""PostgreSQL-only faults: three workers on one campaign, and the server restarted mid-send.

On SQLite these are skipped (SQLite has no ``FOR UPDATE SKIP LOCKED`` and no server to
restart); CI runs the whole suite again on PostgreSQL, where they run.
"""

from __future__ import annotations

import subprocess
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from tests.conftest import app_settings
from tests.faults.conftest import (
    API,
    InFlightSendGrid,
    campaign_state,
    is_postgres,
    received,
    report,
    sendgrid_settings,
    tally,
    wait_progressing,
)


def pg_restart_command(database_url: str) -> list[str]:
    """``pg_ctlcluster ... restart`` for the cluster serving the test database (found by
    its port in ``pg_lsclusters``; CI's is 15/main)."""
    port = str(urlsplit(database_url).port or 5432)
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    version, cluster = "15", "main"
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == port:
            version, cluster = fields[0], fields[1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", "-m", "fast", version, cluster, "restart"]


@pytest.fixture(autouse=True)
def _postgres_only(database_url):
    if not is_postgres(database_url):
        pytest.skip(
            "PostgreSQL only (row locks with SKIP LOCKED, a server to restart); "
            "CI runs the suite again with DATABASE_URL on PostgreSQL"
        )


@pytest.fixture
def fake():
    server = InFlightSendGrid().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, redis_url, fake):
    return app_settings(
        database_url,
        REDIS_URL=redis_url,
        **sendgrid_settings(fake),
    )


def worker_settings(fake, batch: int) -> dict[str, object]:
    return {
        **sendgrid_settings(fake),
        "EMAIL_BATCH_SIZE": batch,
        "EMAIL_RATE_LIMIT": "100000/1",
        "CAMPAIGN_STALE_SECONDS": 3,
        "CAMPAIGN_WATCHDOG_SECONDS": 1,
    }


def launch(client, token_headers, user, list_id: str) -> int:
    r = client.post(
        f"{API}/email/send",
        json={"listId": list_id, "subject": "Allocation", "html": "<p>{{ customer_name }}</p>"},
        headers=token_headers(user),
    )
    assert r.status_code == 202, r.get_json()
    return db.session.scalar(select(Campaign.id).order_by(Campaign.id.desc()))


@pytest.mark.redis
def test_three_workers_on_one_campaign_send_each_recipient_once(
    app, client, manager, token_headers, seed_list, workers, fake
):
    n, batch = 2000, 50
    list_id, emails = seed_list(manager, n)
    group = workers(**worker_settings(fake, batch))
    started = time.monotonic()
    campaign_id = launch(client, token_headers, manager, list_id)
    try:
        for _ in range(3):
            group.start(queues="campaigns")
        sending = wait_progressing(
            lambda: campaign_state(campaign_id)[0] == "sending",
            lambda: campaign_state(campaign_id),
        )
        assert sending, group.output()
        for _ in range(2):  # two more batch jobs: three workers claim from one campaign at once
            jobs.enqueue(delivery.send_campaign_batches, campaign_id, queue="campaigns")
        done = wait_progressing(
            lambda: campaign_state(campaign_id)[0] == "sent",
            lambda: len(fake.received),
            interval=0.5,
        )
        status, counts = campaign_state(campaign_id)
        result = tally(emails, received(fake))
        line = report(
            "three-workers",
            {
                **result,
                "max_in_flight": fake.max_in_flight,
                "requests": len(fake.requests),
                "secs": round(time.monotonic() - started, 1),
            },
        )
        assert done, f"{status} {counts} {line}\n{group.output()}"
        assert result["duplicates"] == 0 and result["missing"] == 0, line
        assert result["unexpected"] == 0 and counts["sent"] == n, (counts, line)
        assert fake.max_in_flight >= 2, f"the workers never overlapped: {line}"
    finally:
        group.stop_all()


@pytest.mark.redis
def test_postgres_restart_mid_campaign_worker_reconnects_and_finishes(
    app, client, manager, token_headers, seed_list, workers, fake, database_url
):
    n, batch = 2000, 100
    list_id, emails = seed_list(manager, n)
    group = workers(**worker_settings(fake, batch))
    started = time.monotonic()
    campaign_id = launch(client, token_headers, manager, list_id)
    db.session.remove()
    try:
        group.start()
        # Worker start-up and the first batches take what a loaded machine gives them: the
        # waits end on what they wait for, or when nothing has moved for minutes.
        fifth = wait_progressing(
            lambda: len(received(fake)) >= n // 5, lambda: len(received(fake)), interval=0.02
        )
        assert fifth, group.output()
        db.session.remove()
        at_restart = len(received(fake))
        restart = subprocess.run(
            pg_restart_command(database_url), capture_output=True, text=True, timeout=300
        )
        assert restart.returncode == 0, restart.stderr
        db.engine.dispose()  # this process's pooled connections died with the server
        done = wait_progressing(
            lambda: campaign_state(campaign_id)[0] == "sent",
            lambda: len(received(fake)),
            interval=0.5,
        )
        status, counts = campaign_state(campaign_id)
        result = tally(emails, received(fake))
        line = report(
            "postgres-restart",
            {**result, "at_restart": at_restart, "secs": round(time.monotonic() - started, 1)},
        )
        assert done, f"{status} {counts} {line}\n{group.output()}"
        assert result["missing"] == 0 and result["unexpected"] == 0, line
        assert result["duplicates"] <= batch, line
        assert counts["sent"] == n, (counts, line)
        assert group.procs[0].poll() is None, "the worker died with the database"
    finally:
        group.stop_all()
        db.session.remove()
        db.engine.dispose()
