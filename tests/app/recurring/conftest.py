"""Recurring campaign tests: manual lists (the audience), the dev outbox, a clock given to
the engine (``run_due(now)``) while campaigns are scheduled in real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.campaigns import service as campaigns
from app.extensions import db
from app.jobs import ScheduledJob
from app.recurring import service
from tests.blueprints.email.conftest import call, make_list  # noqa: F401 - shared fixtures


def soon(minutes: int = 30) -> datetime:
    """A UTC wall-clock time ``minutes`` from now, to the minute (naive: the rule's)."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(
        second=0, microsecond=0, tzinfo=None
    )


def at_utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


@pytest.fixture
def audience(manager, make_customer, make_list):  # noqa: F811 - the shared fixture
    customers = [make_customer(email=f"cellar{i}@example.com") for i in range(3)]
    return make_list(manager, customers, name="Cellar club"), customers


@pytest.fixture
def make_recurring(manager):
    def make(list_id: str, **given: Any):
        user = given.pop("user", manager)
        values: dict[str, Any] = {
            "name": "Weekly specials",
            "channel": "email",
            "list_id": list_id,
            "subject": "Specials for {{ customer_name }}",
            "html": "<p>This week:</p>",
            "rule": "FREQ=DAILY",
            "starts_at": soon(),
            "time_zone": "UTC",
        }
        values.update(given)
        return service.create(user, service.Spec(**values))

    return make


def start_due_campaigns() -> None:
    """Run every campaign start job queued (their time taken as come)."""
    for job in db.session.scalars(select(ScheduledJob).order_by(ScheduledJob.run_at)).all():
        if job.func.endswith("start_scheduled"):
            campaigns.start_scheduled(*job.args)
            db.session.delete(job)
            db.session.commit()
