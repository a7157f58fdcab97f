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

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, request
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.current import app_object
from app.errors import DomainError
from app.extensions import db
from app.models_base import utcnow
from app.signals import webhook_received
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


def _signal_in(
    connection: Connection, row_id: int, provider: str, kind: str, payload: dict[str, Any]
) -> list[Any]:
    """Tell the channels on a session joined to ``connection``'s transaction: their
    ``db.session.commit()`` calls release savepoints; nothing is final before ours."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    registry = db.session.registry
    previous = registry() if registry.has() else None
    # A plain Session joined to the intake's transaction stands in for Flask-SQLAlchemy's.
    registry.set(session)  # type: ignore[arg-type]
    try:
        answers = webhook_received.send(
            app_object(),
            provider=provider,
            event_id=row_id,
            kind=kind,
            data=payload,
        )
        session.commit()
    finally:
        session.close()
        if previous is not None:
            registry.set(previous)
        else:
            registry.clear()
    return [answer for _, answer in answers if answer is not None]


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
