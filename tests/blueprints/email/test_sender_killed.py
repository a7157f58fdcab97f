"""The sender process killed while its batch is at SendGrid (the SDK against the fake):
that batch is put back for a retry as a lost answer, a new process sends the rest, and
nothing else repeats."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator

import pytest

from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.conftest import sendgrid_settings
from tests.fakes.sendgrid import FakeSendGrid

BATCH = 10
RECIPIENTS = 3 * BATCH


class KillingSendGrid(FakeSendGrid):
    """Kills the sender process with its first request, then takes the request (the
    answer has nobody to go to)."""

    def __init__(self) -> None:
        super().__init__()
        self.killed: list[int] = []

    def handle(self, request):
        if not self.killed:
            for child in multiprocessing.active_children():
                if child.pid is not None:
                    os.kill(child.pid, signal.SIGKILL)
                    self.killed.append(child.pid)
        return super().handle(request)


@pytest.fixture
def fake() -> Iterator[KillingSendGrid]:
    server = KillingSendGrid().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, fake):
    return sendgrid_settings(
        database_url, fake, EMAIL_BATCH_SIZE=BATCH, CAMPAIGN_SENDER_PROCESS=True
    )


def test_a_killed_sender_loses_only_its_batch(app, fake, manager, make_customer, make_list, call):
    customers = [make_customer("North") for _ in range(RECIPIENTS)]
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": make_list(manager, customers), "subject": "Hi", "html": "<p>Hi</p>"},
    )
    assert r.status_code == 202, r.get_json()
    assert fake.killed, "the sender process was not found"
    campaign = db.session.get(Campaign, EmailMessage.query.first().campaign_id)
    counts = delivery.status_counts(campaign)
    # The batch in flight is queued again (it may have gone: the one possible repeat);
    # the others went through a new sender process.
    assert counts["sent"] == RECIPIENTS - BATCH
    assert counts["queued"] == BATCH
    lost = EmailMessage.query.filter_by(status="queued").all()
    assert {m.error_code for m in lost} == {"sender_lost"}
    assert all(m.next_attempt_at is not None for m in lost)
    assert fake.request_count == 3
    assert all(pid not in [c.pid for c in multiprocessing.active_children()] for pid in fake.killed)
