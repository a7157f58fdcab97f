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
from operator import itemgetter
from typing import Any

from sqlalchemy import Integer, String, Text, bindparam, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models_base import UTCDateTime, utcnow
from providers.errors import PermanentError, ProviderError, TransientError

STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "cancelled")
FINAL_STATUSES = ("sent", "failed", "suppressed", "cancelled")
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1


class OutboxMixin:
    """Delivery-state columns for a channel's message table."""

    # No index of its own: every query on it also names the campaign (campaign_id = X or
    # IS NULL), which the table's (campaign_id, status) index answers (migration 0007).
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # No index: a claim's rows come back from its UPDATE (migration 0006).
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(120), index=True)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxRow:
    """A claimed message: its columns as plain attributes, outside the ORM session.

    A campaign batch is a thousand rows read once and written back in a few set-based
    UPDATEs; as ORM objects each would also be identity-mapped, instrumented and expired
    at every commit, which cost more than the database work. Assignments to column names
    are remembered and written by :func:`save`; names starting with ``_`` are scratch
    space for the channel (not saved).
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__["_changes"] = {}

    def __getattr__(self, name: str) -> Any:  # only for names never set: the columns' types
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value
        if not name.startswith("_"):
            self._changes[name] = value

    def __repr__(self) -> str:
        return f"<OutboxRow id={self.__dict__.get('id')} status={self.__dict__.get('status')}>"


def claim(
    model: type[Any], conditions: Sequence[Any], limit: int, columns: Sequence[str] | None = None
) -> list[OutboxRow]:
    """Take up to ``limit`` due queued rows matching ``conditions`` for this worker.

    ``columns``: read only these of each row (and its id; default: all); a campaign batch
    reads a few of a message's many columns. The rows come back from the claiming UPDATE
    itself (RETURNING, SQLite 3.35+ and PostgreSQL), in id order."""
    now = utcnow()
    token = str(uuid.uuid4())
    due = (
        select(model.id)
        .where(
            model.status == "queued",
            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
            *conditions,
        )
        .order_by(model.id)
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
    table = model.__table__
    wanted = [table.c[name] for name in columns] if columns else list(table.c)
    read = [table.c.id, *(column for column in wanted if column.key != "id")]
    names = [column.key for column in read]
    claimed = db.session.execute(
        update(table)
        .where(table.c.id.in_(chosen), table.c.status == "queued")
        .values(status="sending", claim_token=token, claimed_at=now)
        .returning(*read)
    ).all()
    db.session.commit()
    # RETURNING gives no order; a batch goes out in id order.
    ordered = sorted(claimed, key=itemgetter(0))
    return [OutboxRow(dict(zip(names, values, strict=True))) for values in ordered]


def save(model: type[Any], rows: Sequence[Any]) -> None:
    """Write what was assigned to these rows since they were read or last saved: rows given
    the same values (a batch marked sent with one provider id, a reason for suppression)
    in one UPDATE ... IN, the others in one executemany UPDATE per set of columns (a
    provider id per message). ORM objects are left to the session's flush."""
    table = model.__table__
    known = set(table.c.keys())
    shared: dict[Any, tuple[dict[str, Any], list[int]]] = {}
    own: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        changes = getattr(row, "_changes", None)
        if not changes:
            continue
        if not changes.keys() <= known:
            unknown = sorted(changes.keys() - known)
            raise AttributeError(f"{table.name} has no column {unknown[0]!r}")
        try:
            key = tuple(sorted(changes.items()))
            hash(key)
        except TypeError:  # a list or dict value: with the rows that have their own values
            key = None
        if key is None:
            own.setdefault(tuple(sorted(changes)), []).append({"row_id": row.id, **changes})
        else:
            shared.setdefault(key, (dict(changes), []))[1].append(row.id)
        changes.clear()
    for values, ids in shared.values():
        if len(ids) == 1:
            own.setdefault(tuple(sorted(values)), []).append({"row_id": ids[0], **values})
            continue
        for start in range(0, len(ids), 500):
            db.session.execute(
                update(table).where(table.c.id.in_(ids[start : start + 500])).values(**values)
            )
    for columns, params in own.items():
        statement = update(table).where(table.c.id == bindparam("row_id"))
        values = {name: bindparam(f"new_{name}") for name in columns}
        db.session.execute(
            statement.values(values),
            [{"row_id": p["row_id"], **{f"new_{n}": p[n] for n in columns}} for p in params],
        )


def recover_stale(
    model: type[Any], older_than: timedelta, conditions: Sequence[Any] = ()
) -> list[int]:
    """Put back rows a dead worker left in ``sending``; returns their ids."""
    cutoff = utcnow() - older_than
    table = model.__table__
    recovered = db.session.scalars(
        update(table)
        .where(table.c.status == "sending", table.c.claimed_at < cutoff, *conditions)
        .values(status="queued", claim_token=None)
        .returning(table.c.id)
    ).all()
    db.session.commit()
    return list(recovered)


def mark_sent(
    row: Any, provider: str, provider_message_id: str | None, at: datetime | None = None
) -> None:
    row.status = "sent"
    row.provider = provider
    row.provider_message_id = provider_message_id
    row.sent_at = at or utcnow()
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
