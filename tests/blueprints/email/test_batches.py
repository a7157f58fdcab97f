"""A campaign goes one batch at a time, each batch's outcomes committed before the next
is claimed: after a crash only the batch at the provider can repeat (the SendGrid SDK
against its fake, through the API)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.conftest import sendgrid_settings
from tests.fakes.sendgrid import FakeSendGrid

BATCH = 20
RECIPIENTS = 3 * BATCH + 5


class WatchingSendGrid(FakeSendGrid):
    """Notes the rows' states in the database while each request is at the provider."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.engine = create_engine(database_url)
        self.seen: list[tuple[int, int]] = []  # (sent on arrival, most in sending meanwhile)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, count(*) FROM email_message GROUP BY status")
            )
            return {status: n for status, n in rows}

    def handle(self, request):
        sent_on_arrival = self.counts().get("sent", 0)
        most_sending, deadline = 0, time.monotonic() + 2
        while time.monotonic() < deadline:  # until the next batch is claimed, or 2 s
            most_sending = max(most_sending, self.counts().get("sending", 0))
            if most_sending > BATCH or sent_on_arrival + most_sending >= RECIPIENTS:
                break
            time.sleep(0.02)
        self.seen.append((sent_on_arrival, most_sending))
        return super().handle(request)


@pytest.fixture
def fake(database_url) -> Iterator[WatchingSendGrid]:
    server = WatchingSendGrid(database_url).start()
    yield server
    server.stop()
    server.engine.dispose()


@pytest.fixture
def app_config(database_url, fake):
    return sendgrid_settings(database_url, fake, EMAIL_BATCH_SIZE=BATCH)


@pytest.fixture
def activities_refused(app):
    """A database that refuses every new activity (a full disk, a broken constraint):
    recording a sent batch fails."""
    statements = {
        "sqlite": (
            [
                "CREATE TRIGGER activity_refused BEFORE INSERT ON activity "
                "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
            ],
            ["DROP TRIGGER IF EXISTS activity_refused"],
        ),
        "postgresql": (
            [
                "CREATE FUNCTION activity_refused() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'disk trouble'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER activity_refused BEFORE INSERT ON activity "
                "FOR EACH ROW EXECUTE FUNCTION activity_refused()",
            ],
            [
                "DROP TRIGGER IF EXISTS activity_refused ON activity",
                "DROP FUNCTION IF EXISTS activity_refused()",
            ],
        ),
    }
    create, drop = statements[db.engine.dialect.name]
    with db.engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    yield
    db.session.rollback()
    with db.engine.begin() as connection:
        for statement in drop:
            connection.execute(text(statement))


def _campaign_sent(manager, make_customer, make_list, call) -> list:
    """A campaign to RECIPIENTS new customers, sent through the API (inline); them."""
    customers = [make_customer("North") for _ in range(RECIPIENTS)]
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "listId": make_list(manager, customers),
            "subject": "Hi",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()
    return customers


def test_each_batch_is_recorded_before_the_next_is_claimed(
    app, fake, manager, make_customer, make_list, call
):
    customers = _campaign_sent(manager, make_customer, make_list, call)
    campaign = db.session.get(Campaign, EmailMessage.query.first().campaign_id)
    assert campaign.status == "sent", delivery.status_counts(campaign)
    assert sorted(m.to for m in fake.received) == sorted(c.email for c in customers)
    # Request k found the k batches before it recorded as sent...
    assert [sent for sent, _ in fake.seen] == [k * BATCH for k in range(4)]
    # ...and, while it was at the provider, only its own rows were claimed.
    assert [sending for _, sending in fake.seen] == [BATCH, BATCH, BATCH, 5]


def test_a_batch_whose_predecessor_could_not_be_recorded_is_never_sent(
    app, fake, manager, make_customer, make_list, call, activities_refused
):
    _campaign_sent(manager, make_customer, make_list, call)
    # The first batch went; recording it failed, so no other batch was claimed or sent.
    assert fake.request_count == 1
    assert len(fake.received) == BATCH
    db.session.rollback()
    campaign = db.session.get(Campaign, EmailMessage.query.first().campaign_id)
    counts = delivery.status_counts(campaign)
    assert counts["sending"] == BATCH  # put back by the stale sweep, then sent
    assert counts["sent"] == 0
    assert counts["queued"] == RECIPIENTS - BATCH
