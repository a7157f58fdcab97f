"""Webhook intake, the core service every channel calls from its own provider routes:
verify first (the route's job), then :func:`receive` records and applies the event once.

An event is marked ``done`` in the same database transaction as its effects: the row is
inserted (or, when a provider retries, locked) first, the channels apply it through
``webhook_received`` on a session whose ``commit()`` only releases a savepoint, and the
whole is committed at once. When applying fails nothing of it stays; the event is then
stored ``pending`` with its error and a ``next_attempt_at``, the provider is answered 503
so that it retries (and the retry is applied, not taken for a duplicate), and the sweep
(:func:`retry`, run by the webhooks channel's job) retries it with backoff until
WEBHOOK_MAX_ATTEMPTS, after which it is ``failed`` and listed for admins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, request
from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.crm.imports.engine import in_values
from app.current import app_object
from app.errors import DomainError
from app.extensions import db
from app.models_base import utcnow
from app.signals import webhook_batch_received, webhook_received
from app.webhooks.models import WebhookEvent

EVENTS = WebhookEvent.__table__
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_RETRY_SECONDS = 60  # first sweep retry; doubles each time, at most 6 hours
MAX_RETRY_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Applied:
    """What :func:`receive` did: ``duplicate`` when the event was already done."""

    duplicate: bool
    answers: list[Any]


class RetryLater(DomainError):
    """Applying failed: kept for retry; the provider is told to try again (503)."""

    status = 503
    code = "retry_later"

    def __init__(self, provider: str) -> None:
        super().__init__(f"The {provider} event could not be applied yet; send it again")


def receive(provider: str, event_id: str, kind: str, payload: dict[str, Any]) -> Applied:
    """Record and apply a verified event once; raises :class:`RetryLater` when it failed.

    The unique (provider, event_id) row decides between concurrent deliveries: a second
    one waits for the first's transaction and then sees it done.
    """
    event_id = event_id[:200]
    db.session.commit()  # end the request's own transaction before ours begins
    try:
        return _apply(provider, event_id, kind, payload)
    except Exception as exc:
        current_app.logger.exception("%s webhook event %s failed", provider, event_id)
        record_failure(provider, event_id, kind, payload, exc)
        raise RetryLater(provider) from exc


@dataclass(frozen=True)
class BatchApplied:
    """What :func:`receive_batch` did: how many events were new and how many were done."""

    new: int
    duplicates: int


def receive_batch(provider: str, events: list[tuple[str, str, dict[str, Any]]]) -> BatchApplied:
    """Record and apply verified events (event_id, kind, payload) of one provider POST.

    One transaction: every new event row inserted at once, already done (``ON CONFLICT
    DO NOTHING``; the ones stored before and not done are locked, applied again and
    marked done), the channels told once (``webhook_batch_received``; events no receiver
    took get ``webhook_received`` one by one). When that fails, nothing of it stays and
    the events go through
    :func:`receive` one by one, so each is kept for retry on its own.
    """
    unique: dict[str, tuple[str, dict[str, Any]]] = {}
    for event_id, kind, payload in events:
        unique.setdefault(event_id[:200], (kind, payload))
    db.session.commit()  # end the request's own transaction before ours begins
    try:
        return _apply_batch(provider, unique)
    except Exception:
        current_app.logger.exception("%s webhook batch failed; one event at a time", provider)
    new = sum(
        not receive(provider, event_id, kind, payload).duplicate
        for event_id, (kind, payload) in unique.items()
    )
    return BatchApplied(new=new, duplicates=len(unique) - new)


def _apply_batch(provider: str, events: dict[str, tuple[str, dict[str, Any]]]) -> BatchApplied:
    if not events:
        return BatchApplied(0, 0)
    now = utcnow()
    ordered = sorted(events)  # one order for every batch: concurrent ones wait, never deadlock
    with db.engine.connect() as connection, connection.begin():
        # new rows go in done: they are applied in this transaction, or none of it stays
        inserted = _insert_new(connection, provider, now, ordered, events)
        claimed = {event_id: row_id for row_id, event_id in inserted}
        stored = [event_id for event_id in ordered if event_id not in claimed]
        again: Sequence[Any] = []
        if stored:  # sent before: apply again only those not done (an earlier failure)
            again = connection.execute(
                select(EVENTS.c.id, EVENTS.c.event_id)
                .where(
                    EVENTS.c.provider == provider,
                    in_values(EVENTS.c.event_id, stored),
                    EVENTS.c.status != "done",
                )
                .order_by(EVENTS.c.event_id)
                .with_for_update()
            ).all()
            claimed.update({event_id: row_id for row_id, event_id in again})
        todo = [
            (claimed[event_id], events[event_id][0], events[event_id][1])
            for event_id in ordered
            if event_id in claimed
        ]
        if todo:
            _signal_batch_in(connection, provider, todo)
        if again:  # stored before and not done: done now
            connection.execute(
                update(EVENTS)
                .where(in_values(EVENTS.c.id, [row_id for row_id, _ in again]))
                .values(status="done", processed_at=utcnow(), next_attempt_at=None, error=None)
            )
    return BatchApplied(new=len(todo), duplicates=len(events) - len(todo))


_INSERT_JSON = text(
    "INSERT INTO webhook_event"
    " (provider, event_id, kind, payload, received_at, status, attempts, processed_at)"
    " SELECT :provider, e->>'id', e->>'kind', e->'payload', :now, 'done', 1, :now"
    " FROM json_array_elements(CAST(:rows AS json)) AS e"
    " ON CONFLICT DO NOTHING RETURNING id, event_id"
)


def _insert_new(
    connection: Connection,
    provider: str,
    now: datetime,
    ordered: list[str],
    events: dict[str, tuple[str, dict[str, Any]]],
) -> list[Any]:
    """Insert the events not stored yet, done (the caller applies them in the same
    transaction); (id, event_id) of those inserted. PostgreSQL:
    one statement with one JSON parameter (a thousand-row VALUES list, or arrays of
    quoted JSON, cost more to build and parse than to run); elsewhere an ``executemany``."""
    if connection.dialect.name == "postgresql":
        rows = [
            {"id": event_id, "kind": events[event_id][0][:40], "payload": events[event_id][1]}
            for event_id in ordered
        ]
        return list(
            connection.execute(
                _INSERT_JSON, {"provider": provider, "now": now, "rows": json.dumps(rows)}
            )
        )
    return list(
        connection.execute(
            _insert_if_new(connection).returning(EVENTS.c.id, EVENTS.c.event_id),
            [
                {
                    "provider": provider,
                    "event_id": event_id,
                    "kind": events[event_id][0][:40],
                    "payload": events[event_id][1],
                    "received_at": now,
                    "status": "done",
                    "attempts": 1,
                    "processed_at": now,
                }
                for event_id in ordered
            ],
        )
    )


def retry(row_id: int) -> bool:
    """Apply a stored event again (the sweep, an admin); True when it is now done."""
    row = db.session.execute(
        select(EVENTS.c.provider, EVENTS.c.event_id, EVENTS.c.kind, EVENTS.c.payload).where(
            EVENTS.c.id == row_id
        )
    ).first()
    db.session.commit()
    if row is None:
        return False
    try:
        _apply(row.provider, row.event_id, row.kind, row.payload)
    except Exception as exc:
        current_app.logger.exception("retry of %s event %s failed", row.provider, row.event_id)
        record_failure(row.provider, row.event_id, row.kind, row.payload, exc)
        return False
    return True


def _apply(provider: str, event_id: str, kind: str, payload: dict[str, Any]) -> Applied:
    with db.engine.connect() as connection, connection.begin():
        claimed = _claim(connection, provider, event_id, kind, payload)
        if claimed is None:
            return Applied(duplicate=True, answers=[])
        row_id, stored = claimed
        answers = _signal_in(connection, row_id, provider, kind, stored)
        connection.execute(
            update(EVENTS)
            .where(EVENTS.c.id == row_id)
            .values(status="done", processed_at=utcnow(), next_attempt_at=None, error=None)
        )
    return Applied(duplicate=False, answers=answers)


def _claim(
    connection: Connection, provider: str, event_id: str, kind: str, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    """Insert the event, or lock the stored one; None when it is already done.

    The first statement is a write, so SQLite takes its write lock here (and the
    savepoints that follow nest inside this transaction).
    """
    values = {
        "provider": provider,
        "event_id": event_id,
        "kind": kind[:40],
        "payload": payload,
        "received_at": utcnow(),
        "status": "pending",
        "attempts": 1,
    }
    inserted = connection.execute(
        _insert_if_new(connection).values(**values).returning(EVENTS.c.id)
    ).scalar()
    if inserted is not None:
        return inserted, payload
    row = connection.execute(
        select(EVENTS.c.id, EVENTS.c.status, EVENTS.c.payload)
        .where(EVENTS.c.provider == provider, EVENTS.c.event_id == event_id)
        .with_for_update()
    ).one()
    if row.status == "done":
        return None
    return row.id, row.payload


def _insert_if_new(connection: Connection) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(EVENTS).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(EVENTS).on_conflict_do_nothing()
    raise RuntimeError(f"Decant runs on SQLite or PostgreSQL, not {dialect}")


@contextmanager
def _joined_session(connection: Connection) -> Iterator[Session]:
    """``db.session`` is, meanwhile, a session joined to ``connection``'s transaction:
    the channels' ``db.session.commit()`` calls release savepoints; nothing is final
    before ours."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    registry = db.session.registry
    previous = registry() if registry.has() else None
    # A plain Session joined to the intake's transaction stands in for Flask-SQLAlchemy's.
    registry.set(session)  # type: ignore[arg-type]
    try:
        yield session
        session.commit()
    finally:
        session.close()
        if previous is not None:
            registry.set(previous)
        else:
            registry.clear()


def _signal_in(
    connection: Connection, row_id: int, provider: str, kind: str, payload: dict[str, Any]
) -> list[Any]:
    """Tell the channels, inside the intake's transaction."""
    with _joined_session(connection):
        answers = webhook_received.send(
            app_object(), provider=provider, event_id=row_id, kind=kind, data=payload
        )
    return [answer for _, answer in answers if answer is not None]


def _signal_batch_in(
    connection: Connection, provider: str, events: list[tuple[int, str, dict[str, Any]]]
) -> None:
    """Tell the channels of a batch at once, inside the intake's transaction; the events
    no receiver took are sent one by one."""
    with _joined_session(connection):
        taken: set[int] = set()
        for _, answer in webhook_batch_received.send(
            app_object(), provider=provider, events=events
        ):
            taken.update(answer or ())
        for row_id, kind, payload in events:
            if row_id not in taken:
                webhook_received.send(
                    app_object(), provider=provider, event_id=row_id, kind=kind, data=payload
                )


def backoff(attempts: int) -> timedelta:
    """Delay before the sweep's next try after ``attempts`` failures (doubling)."""
    base = int(current_app.config.get("WEBHOOK_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def max_attempts() -> int:
    return max(1, int(current_app.config.get("WEBHOOK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))


def record_failure(
    provider: str, event_id: str, kind: str, payload: dict[str, Any], exc: BaseException
) -> None:
    """Keep a failed event for the retries: pending with its error, or failed for good
    after :func:`max_attempts` (then an admin sees it)."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    now = utcnow()
    with db.engine.connect() as connection, connection.begin():
        inserted = connection.execute(
            _insert_if_new(connection)
            .values(
                provider=provider,
                event_id=event_id,
                kind=kind[:40],
                payload=payload,
                received_at=now,
                status="pending",
                attempts=0,
            )
            .returning(EVENTS.c.id)
        ).scalar()
        row = connection.execute(
            select(EVENTS.c.id, EVENTS.c.status, EVENTS.c.attempts)
            .where(EVENTS.c.provider == provider, EVENTS.c.event_id == event_id)
            .with_for_update()
        ).one()
        if row.status == "done" and inserted is None:
            return  # a concurrent delivery applied it meanwhile
        attempts = (row.attempts or 0) + 1
        gave_up = attempts >= max_attempts()
        connection.execute(
            update(EVENTS)
            .where(EVENTS.c.id == row.id)
            .values(
                status="failed" if gave_up else "pending",
                attempts=attempts,
                error=error,
                next_attempt_at=None if gave_up else now + backoff(attempts),
            )
        )


def public_url() -> str:
    """The URL the provider called and signed: the configured public base, never the
    proxied Host (so a signature verifies behind a proxy)."""
    base: str = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")
