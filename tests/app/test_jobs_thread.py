"""Without Redis, background work runs in the app's own worker thread: a request that
starts a campaign answers at once (issue 22 item 6)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app import jobs
from app.extensions import db
from app.messaging.models import Campaign
from tests.app import job_targets
from tests.conftest import app_settings


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    return app_settings(database_url, JOBS_IN_THREAD=True, PERIODIC_TICK_SECONDS=1)


@pytest.fixture(autouse=True)
def _stop_the_job_thread(app):
    yield
    worker = app.extensions.get("decant_local_worker")
    if worker is not None:
        worker.stop()


def _until(check, seconds: float = 30.0) -> None:
    """Wait for another thread's work, boundedly (no assertion on how long it takes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("the job thread did not finish in time")


def test_a_job_runs_in_the_apps_thread_not_in_the_caller(app):
    job_targets.calls.clear()
    job_targets.released.clear()
    job_targets.started.clear()
    handle = jobs.enqueue(job_targets.wait_for_release)  # in a request (pytest-flask's)
    assert handle.status == "queued"
    assert job_targets.started.wait(timeout=30)  # it runs elsewhere while we go on
    assert job_targets.calls == []
    job_targets.released.set()
    _until(lambda: (jobs.job_status(handle.id) or handle).status == "finished")
    assert job_targets.calls == ["released"]


def test_a_command_runs_its_jobs_in_place(app):
    """Outside a request (`flask setup`, a job in the thread) the work is done before the
    caller goes on, so a command that exits right after leaves nothing half done."""
    import threading

    job_targets.calls.clear()
    seen: list[str] = []

    def command() -> None:  # like the CLI: an app context, no request
        with app.app_context():
            seen.append(jobs.enqueue(job_targets.remember, "now").status)
            db.session.remove()

    runner = threading.Thread(target=command)
    runner.start()
    runner.join(30)
    assert seen == ["finished"] and job_targets.calls == ["now"]


def test_sending_a_campaign_answers_at_once_and_the_thread_sends_it(
    app, manager, make_customer, token_headers, client
):
    from blueprints.lists.models import EmailList, EmailListMember

    customers = [make_customer() for _ in range(5)]
    lst = EmailList(name="Tasting", owner_id=manager.id, is_smart=False, member_count=5)
    db.session.add(lst)
    db.session.flush()
    db.session.add_all(EmailListMember(list_id=lst.id, customer_id=c.id) for c in customers)
    db.session.commit()
    r = client.post(
        "/api/sales/marketing/email/send",
        headers=token_headers(manager),
        json={
            "listId": lst.public_id,
            "subject": "Spring",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()
    campaign_id = r.get_json()["id"]
    _until(
        lambda: (
            db.session.scalar(db.select(Campaign.status).where(Campaign.public_id == campaign_id))
            == "sent"
        )
    )
    from app.dev.models import DevMessage

    assert {m.to for m in db.session.scalars(db.select(DevMessage))} == {c.email for c in customers}
