"""One enqueue API: inline without Redis, a real RQ worker process with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import jobs
from app.channels import PeriodicJob
from app.crm.models import Activity
from app.extensions import db
from app.models_base import utcnow
from tests.app import job_targets
from tests.conftest import stop_worker

ROOT = Path(__file__).resolve().parents[2]


def test_inline_jobs_run_now(app, make_customer):
    customer = make_customer()
    handle = jobs.enqueue(job_targets.note, customer.id, "inline hello")
    assert handle.status == "finished"
    assert db.session.scalar(select(Activity.body)) == "inline hello"
    assert jobs.job_status(handle.id).status == "finished"


def test_inline_job_failure_is_recorded_not_raised(app):
    handle = jobs.enqueue(job_targets.explode)
    assert handle.status == "failed" and "went wrong" in handle.error


def test_wrong_job_paths_fail_at_enqueue(app):
    with pytest.raises((ImportError, AttributeError)):
        jobs.enqueue("tests.app.job_targets:nope")


def test_inline_scheduled_jobs_wait_for_their_time(app, make_customer):
    app.extensions["decant_periodic"] = {}  # channels' own periodic jobs are not under test
    customer = make_customer()
    handle = jobs.enqueue(job_targets.note, customer.id, "later", at=utcnow() + timedelta(hours=1))
    assert handle.status == "scheduled"
    assert jobs.tick(app) == []
    assert db.session.scalar(select(Activity)) is None
    scheduled = db.session.get(jobs.ScheduledJob, handle.id)
    scheduled.run_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert jobs.tick(app) == ["tests.app.job_targets:note"]
    assert db.session.scalar(select(Activity.body)) == "later"
    assert jobs.tick(app) == []  # ran once


def test_periodic_jobs_run_once_per_slot(app):
    job_targets.calls.clear()
    app.extensions["decant_periodic"] = {}  # channels' own periodic jobs are not under test
    jobs.register_periodic(app, PeriodicJob("remember", "tests.app.test_jobs:_remember_tick", 60))
    t0 = 6_000_000.0
    assert jobs.tick(app, now=t0) == ["remember"]
    assert jobs.tick(app, now=t0 + 1) == []
    assert jobs.tick(app, now=t0 + 60) == ["remember"]
    assert job_targets.calls == ["tick", "tick"]


def _remember_tick() -> None:
    job_targets.remember("tick")


def test_periodic_slots_are_shared_through_redis(app, redis_url):
    """Two processes' tickers (two apps here) never enqueue the same slot twice."""
    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("decant_redis", None)
    app.extensions["decant_periodic"] = {}
    jobs.register_periodic(app, PeriodicJob("shared", "tests.app.test_jobs:_remember_tick", 60))
    t0 = 7_000_000.0
    first = jobs.tick(app, now=t0)
    app.extensions["decant_periodic_slots"].clear()  # a second process has no memory of it
    second = jobs.tick(app, now=t0 + 5)
    assert first == ["shared"] and second == []


@pytest.mark.redis
def test_a_real_worker_process_runs_a_job_end_to_end(app, redis_url, database_url, make_customer):
    customer = make_customer()
    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("decant_redis", None)
    handle = jobs.enqueue(job_targets.note, customer.id, "from the worker", queue="messages")
    assert handle.status == "queued"
    env = {
        **os.environ,
        "DECANT_ENV": "testing",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--queues", "messages"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            status = jobs.job_status(handle.id)
            if status and status.status in ("finished", "failed"):
                break
            time.sleep(0.2)
        assert status is not None and status.status == "finished", status
    finally:
        output = stop_worker(worker)
    db.session.expire_all()
    assert db.session.scalar(select(Activity.body)) == "from the worker", output[-2000:]


def test_finished_and_failed_inline_jobs_answer_from_any_process(
    app, client, manager, token_headers, make_customer
):
    """``GET /api/jobs/<id>`` answers for an inline job that ended, also in a process
    that did not run it (or this one restarted): its outcome is in the database."""
    customer = make_customer()
    done = jobs.enqueue(job_targets.note, customer.id, "kept")
    failed = jobs.enqueue(job_targets.explode)
    app.extensions.pop("decant_inline_jobs", None)  # another process's memory: empty
    headers = token_headers(manager)
    answer = client.get(f"/api/jobs/{done.id}", headers=headers)
    assert answer.status_code == 200 and answer.get_json() == {
        "id": done.id,
        "status": "finished",
        "error": None,
    }
    answer = client.get(f"/api/jobs/{failed.id}", headers=headers).get_json()
    assert answer["status"] == "failed" and "went wrong" in answer["error"]
    assert client.get("/api/jobs/no-such-job", headers=headers).status_code == 404


def test_outcomes_of_inline_jobs_are_forgotten_after_a_day(app, make_customer):
    app.extensions["decant_periodic"] = {}
    customer = make_customer()
    handle = jobs.enqueue(job_targets.note, customer.id, "old")
    kept = db.session.get(jobs.ScheduledJob, handle.id)
    kept.run_at = utcnow() - timedelta(seconds=jobs.RESULT_TTL_SECONDS + 1)
    db.session.commit()
    jobs.tick(app)
    assert db.session.get(jobs.ScheduledJob, handle.id) is None
