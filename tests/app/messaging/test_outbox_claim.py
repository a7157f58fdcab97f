"""A claim commits without waiting for the disk, and leaves no connection unsynced."""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db
from app.messaging import outbox
from blueprints.email.models import EmailMessage


def _queued(n: int) -> list[int]:
    rows = [EmailMessage(to_address=f"c{i}@example.test", status="queued") for i in range(n)]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def test_a_claim_takes_queued_rows_once(app) -> None:
    ids = _queued(5)
    first = outbox.claim(EmailMessage, [], 3, ("id", "status", "claim_token"))
    second = outbox.claim(EmailMessage, [], 3, ("id", "status", "claim_token"))
    assert [r.id for r in first] == ids[:3] and [r.id for r in second] == ids[3:]
    assert {r.status for r in first + second} == {"sending"}
    assert len({r.claim_token for r in first + second}) == 2
    db.session.remove()  # what a commit elsewhere would see
    stored = db.session.execute(text("SELECT count(*) FROM email_message WHERE status='sending'"))
    assert stored.scalar() == 5


def test_connections_are_synced_again_after_a_claim(app) -> None:
    _queued(2)
    outbox.claim(EmailMessage, [], 2)
    if db.engine.dialect.name != "sqlite":
        # SET LOCAL ends with its transaction
        assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        return
    db.session.commit()  # the session gives its connection back
    # every pooled connection, whichever the next checkout gets, is FULL (2) again
    connections = [db.engine.connect() for _ in range(db.engine.pool.size() + 1)]
    try:
        assert {c.exec_driver_sql("PRAGMA synchronous").scalar() for c in connections} == {2}
    finally:
        for connection in connections:
            connection.close()
