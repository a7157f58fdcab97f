"""A flow (email, wait, email) on real RQ workers: a worker SIGKILLed while the runs wait,
time passes, a new worker's watchdog picks the runs up. Every customer gets each email:
nothing skipped, and nothing twice but what was at the provider when the worker died."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.flows.models import FlowRun
from app.messaging.models import Template
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from tests.conftest import app_settings
from tests.fakes.sendgrid import FakeSendGrid
from tests.faults.conftest import sendgrid_settings, wait_for

CUSTOMERS = 12
API = "/api/sales/marketing/flows"


@pytest.fixture
def fake():
    server = FakeSendGrid().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, redis_url, fake):
    return app_settings(
        database_url,
        REDIS_URL=redis_url,
        **sendgrid_settings(fake),
        FLOW_CAP_EMAIL_HOURS=0,
    )


def states() -> Counter[str]:
    db.session.expire_all()
    return Counter(db.session.scalars(select(FlowRun.state)))


def messages() -> list[tuple[object, ...]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(
            EmailMessage.id,
            EmailMessage.status,
            EmailMessage.claimed_at,
            EmailMessage.next_attempt_at,
            EmailMessage.error_message,
        ).where(EmailMessage.status != "sent")
    )
    return [tuple(row) for row in rows]


@pytest.mark.redis
def test_a_killed_worker_mid_flow_neither_skips_nor_repeats(
    app, client, manager, token_headers, make_customer, workers, fake
):
    headers = token_headers(manager)
    welcome = Template(type="email", name="Welcome", subject="Welcome", html="<p>Hi</p>")
    later = Template(type="email", name="Later", subject="Two days on", html="<p>Still?</p>")
    db.session.add_all([welcome, later])
    db.session.commit()
    flow = client.post(
        API,
        json={
            "name": "Welcome series",
            "trigger": {"type": "manual"},
            "steps": [
                {"type": "email", "templateId": welcome.public_id},
                {"type": "wait", "days": 2},
                {"type": "email", "templateId": later.public_id},
            ],
        },
        headers=headers,
    ).get_json()
    assert client.post(f"{API}/{flow['id']}/activate", headers=headers).status_code == 200
    customers = [make_customer() for _ in range(CUSTOMERS)]
    for customer in customers:
        answer = client.post(
            f"{API}/{flow['id']}/runs", json={"customerId": customer.public_id}, headers=headers
        )
        assert answer.status_code == 201, answer.get_json()
    group = workers(
        EMAIL_PROVIDER="sendgrid",
        SENDGRID_API_KEY=fake.api_key,
        SENDGRID_BASE_URL=fake.url,
        FLOW_CAP_EMAIL_HOURS="0",
    )
    first = group.start()
    try:
        assert wait_for(lambda: states()["waiting"] == CUSTOMERS, 150, 0.2), (
            f"{states()}\n{group.output()}"
        )
        group.kill(first)
        # what was at the provider when the worker died may go twice (SendGrid has no
        # idempotency key), nothing else; a flow email stores its subject once sent, so a
        # row in flight is known by its template's
        sent_subject = func.coalesce(EmailMessage.subject, Template.subject)
        in_flight = {
            (to, subject)
            for to, subject in db.session.execute(
                select(EmailMessage.to_address, sent_subject)
                .outerjoin(Template, Template.id == EmailMessage.template_id)
                .where(EmailMessage.status == "sending")
            )
        }
        # two days pass while no worker runs (the waits' RQ jobs stay scheduled for then)
        db.session.execute(update(FlowRun).values(next_at=utcnow()))
        db.session.commit()
        group.start(  # a send the killed worker had claimed is recovered by the watchdog
            extra_env={
                "FLOW_STALE_SECONDS": "1",
                "FLOW_WATCHDOG_SECONDS": "2",
                "CAMPAIGN_STALE_SECONDS": "3",
                "CAMPAIGN_WATCHDOG_SECONDS": "2",
                "EMAIL_SWEEP_SECONDS": "2",
            }
        )
        assert wait_for(lambda: states()["done"] == CUSTOMERS, 150, 0.5), (
            f"{states()}\n{group.output()}"
        )
        assert wait_for(lambda: len(fake.received) >= 2 * CUSTOMERS, 150, 0.2), (
            f"{len(fake.received)} of {2 * CUSTOMERS} sent: {messages()}\n{group.output()}"
        )
    finally:
        group.stop_all()
    got = Counter((m.to, m.subject) for m in fake.received)
    want = {(c.email, s) for c in customers for s in ("Welcome", "Two days on")}
    assert set(got) == want
    twice = {k for k, n in got.items() if n > 1}
    assert twice <= in_flight, (twice, in_flight, group.output()[-6000:])
