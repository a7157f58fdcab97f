"""Without Redis a campaign never runs inside the web request that sends it: the app's
job thread does the work, and ``POST .../campaigns/<id>/send`` answers 202 at once
(issue 22 item 6)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.extensions import db
from app.messaging.models import Campaign
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import app_settings


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    # one email a second: three recipients cannot all be sent before the answer comes
    return app_settings(
        database_url,
        JOBS_IN_THREAD=True,
        PERIODIC_TICK_SECONDS=1,
        EMAIL_RATE_LIMIT="1/1",
        EMAIL_BATCH_SIZE=1,
    )


@pytest.fixture(autouse=True)
def _stop_the_job_thread(app):
    yield
    worker = app.extensions.get("decant_local_worker")
    if worker is not None:
        worker.stop()


def test_send_answers_202_at_once_and_the_thread_sends(call, manager, make_customer, make_list):
    customers = [make_customer(email=f"t{i}@example.com") for i in range(3)]
    list_id = make_list(manager, customers, name="Thread")
    draft = call(
        manager,
        "post",
        "/campaigns",
        json={"channel": "email", "listId": list_id, "subject": "s", "html": "<p>x</p>"},
    ).get_json()
    r = call(manager, "post", f"/campaigns/{draft['id']}/send")
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] == "preparing"  # queued for the thread, not sent here
    assert len(dev_messages()) < 3
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Campaign, _pk(draft["id"])).status == "sent":
            break
        time.sleep(0.1)
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)


def _pk(public_id: str) -> int:
    from sqlalchemy import select

    return db.session.scalar(select(Campaign.id).where(Campaign.public_id == public_id))
