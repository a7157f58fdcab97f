"""With Redis: the sync is a real RQ job on the "sync" queue, pollable, run by a worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from blueprints.mailchimp.models import MailchimpSync
from tests.conftest import app_settings
from tests.fakes.mailchimp import DEFAULT_KEY


@pytest.fixture
def app_config(database_url, fake, redis_url):
    return app_settings(
        database_url,
        REDIS_URL=redis_url,
        MAILCHIMP_BASE_URL=fake.url,
        MAILCHIMP_RETRY_BASE_SECONDS=0.01,
        MAILCHIMP_RETRY_MAX_SECONDS=0.05,
        MAILCHIMP_RETRY_ATTEMPTS=2,
    )


def test_sync_runs_as_an_rq_job(
    app, client, call, token_headers, manager, fake, make_customer, crm_list
):
    from rq import SimpleWorker
    from rq.job import Job

    from app.jobs import redis_connection

    assert call(manager, "post", "/connect", json={"apiKey": DEFAULT_KEY}).status_code == 201
    fake.add_audience("Trade", "aud1")
    list_id = crm_list([make_customer(), make_customer()])
    body = call(manager, "post", "/sync", json={"listId": list_id, "audienceId": "aud1"})
    assert body.status_code == 202
    assert body.get_json()["status"] == "queued"
    conn = redis_connection(app)
    job = Job.fetch(body.get_json()["jobId"], connection=conn)
    assert job.origin == "sync" and job.get_status() == "queued"

    headers = token_headers(manager)
    # the worker runs in this process and ends with db.session.remove(): reload afterwards
    SimpleWorker(["sync"], connection=conn).work(burst=True)
    db.session.expire_all()
    sync = db.session.scalar(select(MailchimpSync))
    assert sync.status == "done" and sync.progress_done == 2
    polled = client.get(f"/api/sales/marketing/mailchimp/sync/{sync.public_id}", headers=headers)
    polled = polled.get_json()
    assert polled["status"] == "done"
    assert len(fake.audiences["aud1"].members) == 2
