"""With Redis: the A/B test's decision is a scheduled RQ job at the end of the wait; a
real worker runs it, and it hands the rest of the audience to the winner's sending."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from tests.app.campaigns.test_ab_tests import HTML
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import app_settings


@pytest.fixture
def app_config(database_url, redis_url):
    return app_settings(database_url, REDIS_URL=redis_url, AB_MIN_SAMPLE=5)


def test_the_decision_runs_as_a_scheduled_rq_job(app, call, manager, make_customer, make_list):
    from rq import Queue, SimpleWorker
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from app.jobs import redis_connection

    customers = [make_customer(email=f"rq{i}@example.com") for i in range(40)]
    list_id = make_list(manager, customers, name="RQ tasters")
    body = {
        "channel": "email",
        "listId": list_id,
        "subject": "Autumn",
        "html": HTML,
        "variants": [{"subject": "A subject"}, {"subject": "B subject"}],
        "testShare": 0.5,
        "waitMinutes": 90,
        "fallbackVariant": "B",
    }
    draft = call(manager, "post", "/campaigns", json=body).get_json()
    assert call(manager, "post", f"/campaigns/{draft['id']}/send").status_code == 202
    conn = redis_connection(app)
    SimpleWorker(["campaigns"], connection=conn).work(burst=True)  # prepare, split, test sends
    db.session.expire_all()
    campaign = db.session.scalar(select(Campaign).where(Campaign.public_id == draft["id"]))
    tested = len(dev_messages())
    assert 0 < tested < len(customers) and campaign.status == "sending"

    queue = Queue("campaigns", connection=conn)
    scheduled = ScheduledJobRegistry(queue=queue)
    [job_id] = scheduled.get_job_ids()
    job = Job.fetch(job_id, connection=conn)
    assert job.args[0].endswith("decide_winner") and job.args[1] == [campaign.id]
    due = scheduled.get_expiration_time(job)
    assert abs(due.replace(tzinfo=None) - campaign.ab_decide_at.replace(tzinfo=None)) < (
        timedelta(seconds=2)
    )

    # the wait is over: the scheduler would move the job to the queue now
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(ab_decide_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    scheduled.remove(job)
    queue.enqueue_job(job)
    SimpleWorker(["campaigns"], connection=conn).work(burst=True)

    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert campaign.ab_decision["winner"] == "B" and not campaign.ab_decision["declared"]
    assert campaign.status == "sent"
    sent = Counter(m.to for m in dev_messages())
    assert len(sent) == len(customers) and set(sent.values()) == {1}
    variants = db.session.scalars(
        select(EmailMessage.variant).where(EmailMessage.campaign_id == campaign.id)
    ).all()
    assert None not in variants and Counter(variants)[1] >= len(customers) - tested
