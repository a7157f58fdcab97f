"""Getting committed deliveries to the job queue, once their rows are committed.

A delivery row is written in its event's transaction, so a rolled-back event sends
nothing. Session events note the ids of new rows at flush and mark them ready at commit;
:func:`dispatch_ready` enqueues them (right after an event commits, and when a request or
app context ends); the periodic :func:`sweep` picks up any a crash left behind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.orm import Session

from app import jobs
from app.current import app_object
from app.extensions import db
from app.outbound.models import OutboundDelivery

log = logging.getLogger(__name__)

FLUSHED = "decant_outbound_flushed"
READY = "decant_outbound_ready"
DELIVER = "app.outbound.delivery:deliver"


@event.listens_for(Session, "after_flush")
def _note_new(session: Session, _context: Any) -> None:
    new = [o.id for o in session.new if isinstance(o, OutboundDelivery)]
    if new:
        session.info.setdefault(FLUSHED, []).extend(new)


@event.listens_for(Session, "after_commit")
def _mark_ready(session: Session) -> None:
    flushed = session.info.pop(FLUSHED, None)
    if flushed:
        session.info.setdefault(READY, []).extend(flushed)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(FLUSHED, None)


def enqueue(
    delivery_id: int, attempt: int, at: datetime | None = None, trigger: str = "auto"
) -> jobs.JobHandle:
    """One attempt of a delivery (``attempt`` = attempts made so far: a job whose count
    is stale does nothing, so duplicates and superseded retries are harmless)."""
    return jobs.enqueue(
        DELIVER, delivery_id, attempt, trigger=trigger, queue="default", at=at, retries=0
    )


def dispatch_ready() -> int:
    """Enqueue the first attempt of every delivery committed in this session."""
    ids = db.session.info.pop(READY, None)
    if not ids:
        return 0
    for delivery_id in ids:
        try:
            enqueue(delivery_id, 0)
        except Exception:  # Redis down: the sweep sends it later
            log.exception("could not enqueue outbound delivery %s", delivery_id)
    return len(ids)


def _dispatch_at_teardown(_exc: BaseException | None = None) -> None:
    try:
        if db.session.info.get(READY):
            dispatch_ready()
    except Exception:
        log.exception("outbound webhook dispatch failed")


def sweep() -> int:
    """Re-enqueue deliveries that are due and have no job (lost on a crash or Redis outage),
    put back attempts whose worker died, and drop finished deliveries past retention."""
    app = app_object()
    now = datetime.now(UTC)
    grace = timedelta(seconds=int(app.config["OUTBOUND_WEBHOOK_SWEEP_SECONDS"]))
    stuck = now - timedelta(seconds=4 * float(app.config["OUTBOUND_WEBHOOK_TIMEOUT"]) + 60)
    db.session.execute(
        update(OutboundDelivery)
        .where(OutboundDelivery.status == "sending", OutboundDelivery.last_attempt_at < stuck)
        .values(status="pending", next_attempt_at=now)
    )
    keep = now - timedelta(days=int(app.config["OUTBOUND_WEBHOOK_RETENTION_DAYS"]))
    db.session.execute(
        delete(OutboundDelivery).where(
            OutboundDelivery.status.in_(("succeeded", "failed")),
            or_(OutboundDelivery.last_attempt_at < keep, OutboundDelivery.created_at < keep),
        )
    )
    db.session.commit()
    due = db.session.execute(
        select(OutboundDelivery.id, OutboundDelivery.attempts)
        .where(
            OutboundDelivery.status == "pending",
            OutboundDelivery.next_attempt_at <= now - grace,
        )
        .order_by(OutboundDelivery.next_attempt_at)
        .limit(500)
    ).all()
    for row in due:
        enqueue(row.id, row.attempts)
    return len(due)


def init_app(app: Flask) -> None:
    app.teardown_request(_dispatch_at_teardown)
    app.teardown_appcontext(_dispatch_at_teardown)
