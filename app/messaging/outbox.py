"""The outbox: every message is a row first, then jobs move it to the provider.

Rows go ``queued -> sending -> sent | failed | suppressed`` (or ``cancelled``). A worker
*claims* a batch by flipping queued rows to sending with its claim token in one UPDATE
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never take the same
row); a worker killed mid-batch leaves rows in ``sending`` that :func:`recover_stale` puts
back after a grace period, so the only possible duplicate is the batch that was in flight.
A transient provider error puts the batch back with ``next_attempt_at`` (the provider's
Retry-After when it gave one, else exponential backoff); a permanent error fails the row
with the provider's code, shown to the user.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, load_only, mapped_column

from app.extensions import db
from app.models_base import UTCDateTime, utcnow
from providers.errors import PermanentError, ProviderError, TransientError

STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "cancelled")
FINAL_STATUSES = ("sent", "failed", "suppressed", "cancelled")
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1

M = TypeVar("M")


class OutboxMixin:
    """Delivery-state columns for a channel's message table."""

    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(36), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(120), index=True)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def claim(
    model: type[M], conditions: Sequence[Any], limit: int, columns: Sequence[str] | None = None
) -> list[M]:
    """Take up to ``limit`` due queued rows matching ``conditions`` for this worker.

    ``columns``: load only these attributes (the rest load when first read); a campaign
    batch reads a few of a message's many columns."""
    now = utcnow()
    token = str(uuid.uuid4())
    due = (
        select(model.id)  # type: ignore[attr-defined]
        .where(
            model.status == "queued",  # type: ignore[attr-defined]
            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),  # type: ignore[attr-defined]
            *conditions,
        )
        .order_by(model.id)  # type: ignore[attr-defined]
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Ids first, then the UPDATE: PostgreSQL may re-run an ``IN (... LIMIT n FOR
        # UPDATE SKIP LOCKED)`` subquery and so claim more than n rows; the row locks
        # hold till commit.
        ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        chosen: Any = ids
    else:
        # SQLite has one writer at a time: the subquery runs once, inside the UPDATE.
        ids, chosen = None, due.scalar_subquery()
    if ids == []:
        db.session.commit()
        return []
    claimed_count = db.session.execute(
        update(model)
        .where(model.id.in_(chosen), model.status == "queued")  # type: ignore[attr-defined]
        .values(status="sending", claim_token=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed_count:
        return []
    claimed = (
        select(model)
        .where(model.claim_token == token, model.status == "sending")  # type: ignore[attr-defined]
        .order_by(model.id)  # type: ignore[attr-defined]
    )
    if columns:
        claimed = claimed.options(load_only(*(getattr(model, name) for name in columns)))
    return list(db.session.scalars(claimed))


def recover_stale(model: type[Any], older_than: timedelta, conditions: Sequence[Any] = ()) -> int:
    """Put back rows a dead worker left in ``sending``; returns how many."""
    cutoff = utcnow() - older_than
    result = db.session.execute(
        update(model)
        .where(model.status == "sending", model.claimed_at < cutoff, *conditions)
        .values(status="queued", claim_token=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def mark_sent(row: Any, provider: str, provider_message_id: str | None) -> None:
    row.status = "sent"
    row.provider = provider
    row.provider_message_id = provider_message_id
    row.sent_at = utcnow()
    row.attempts = (row.attempts or 0) + 1
    row.error_code = row.error_message = None


def mark_failed(
    row: Any, provider: str, error: ProviderError | str, code: str | None = None
) -> None:
    row.status = "failed"
    row.provider = provider
    row.attempts = (row.attempts or 0) + 1
    row.error_code = (error.code if isinstance(error, ProviderError) else code) or None
    row.error_message = str(error)[:2000]


def mark_suppressed(row: Any, why: str) -> None:
    row.status = "suppressed"
    row.error_code = "suppressed"
    row.error_message = why


def retry_later(rows: Sequence[Any], provider: str, error: TransientError) -> datetime | None:
    """Requeue rows after a transient error; rows out of attempts fail. Returns the due time."""
    due: datetime | None = None
    for row in rows:
        row.attempts = (row.attempts or 0) + 1
        row.provider = provider
        row.error_code = error.code or "transient"
        row.error_message = str(error)[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            continue
        delay = error.retry_after
        if delay is None:
            delay = BACKOFF_SECONDS[min(row.attempts - 1, len(BACKOFF_SECONDS) - 1)]
        row.status = "queued"
        row.claim_token = None
        row.next_attempt_at = utcnow() + timedelta(seconds=max(1.0, float(delay)))
        due = row.next_attempt_at if due is None else min(due, row.next_attempt_at)
    return due


def is_permanent(error: Exception) -> bool:
    return isinstance(error, PermanentError)
