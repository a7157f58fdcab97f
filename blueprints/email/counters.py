"""A message's engagement counters, changed by its opens and clicks in the order they came.

Both the pixel/redirect (one event) and the provider webhook (a batch of a thousand) go
through here: :func:`lock` locks the messages' rows (``SELECT ... FOR UPDATE``, in id
order so concurrent batches cannot deadlock) and reads their counters and the opens that
clicks implied; :func:`apply` changes those values in Python, event by event; :func:`write`
stores them (one ``executemany``). Deciding on the locked row is what makes an open and a
click of the same message arriving together count right: before, the click decided
whether it implied an open from a copy of the message read before the open committed,
so both counted (issue 26: 2,120 opens for 2,119 open events).

A click proves an open: when the message has none yet (or, for a person's click, no
human one), the click adds an *implied* open. When the real open then arrives (late, or
in a batch that lost the race), it takes the implied one's place instead of counting
twice: the open is the same one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text, update

from app.crm.imports.engine import in_values
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.models_base import utcnow
from blueprints.email.models import EmailEvent, EmailLink, EmailMessage

M = EmailMessage
COUNTER_COLUMNS = (
    "open_count",
    "human_open_count",
    "click_count",
    "human_click_count",
    "first_opened_at",
    "last_opened_at",
    "first_clicked_at",
    "last_clicked_at",
    "first_human_open_at",
    "first_human_click_at",
    "delivered_at",
)
#: read with the counters, not written: what the click rules, the activity note and the
#: ``message_event`` signal need
CONTEXT_COLUMNS = ("campaign_id", "sent_at", "public_id", "customer_id", "activity_id")
#: A select-list item that makes the current PostgreSQL transaction commit without waiting
#: for its WAL to reach the disk (``synchronous_commit = off``, this transaction only).
#: For the pixel and the redirect: a crash of the database server may lose the last
#: fraction of a second of opens and clicks (never half of one, never one twice), which
#: no mail client would resend anyway; the flush wait was the largest part of their
#: cost. Provider batches stay durable: a provider does not resend what was answered 200.
NOT_DURABLE = "set_config('synchronous_commit', 'off', true)"


@dataclass
class ImpliedOpen:
    """An open a click implied: a stored event row (``event_id``) or one still to insert."""

    human: bool
    event_id: int | None = None
    row: dict[str, Any] | None = None


@dataclass
class Counters:
    """The locked counters of one message, and what applying events left to store."""

    message_id: int
    values: dict[str, Any]
    implied: list[ImpliedOpen] = field(default_factory=list)
    new_events: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False


def lock(
    message_ids: Iterable[int], *, opens: Iterable[int] = (), link: int | None = None
) -> dict[int, Counters]:
    """Lock the messages' rows (id order) and read their counters, and the implied opens
    of those among ``opens`` (the messages an open is about to be applied to).

    ``link``: read with them (value ``link_url``) the URL of that link number, the
    message's own or else its campaign's (None when neither is stored): a click
    resolves its link in the same round trip as the lock."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks and reads outside a transaction: a first write takes
        # its one writer's lock, so nobody changes the rows between our read and write
        db.session.execute(update(M).where(in_values(M.id, ids)).values(id=M.id))
    columns: list[Any] = [getattr(M, name) for name in (*COUNTER_COLUMNS, *CONTEXT_COLUMNS)]
    if link is not None:
        columns.append(_link_url(link))
    result = db.session.execute(
        select(M.id, *columns).where(in_values(M.id, ids)).order_by(M.id).with_for_update(of=M)
    )
    names = list(result.keys())[1:]
    found = {row[0]: Counters(row[0], dict(zip(names, row[1:], strict=True))) for row in result}
    # an implied open was counted: a message with no open has none to replace
    opened = sorted({i for i in opens if i in found and found[i].values["open_count"]})
    if not opened:
        return found
    implied = db.session.execute(
        select(EmailEvent.message_id, EmailEvent.id, EmailEvent.machine)
        .where(
            in_values(EmailEvent.message_id, opened),
            EmailEvent.type == "open",
            EmailEvent.implied.is_(True),
        )
        .order_by(EmailEvent.id)
    ).all()
    for message_id, event_id, machine in implied:
        found[message_id].implied.append(ImpliedOpen(human=not machine, event_id=event_id))
    return found


def _link_url(number: int) -> Any:
    """Link ``number`` of the locked message: its own first, else its campaign's."""
    return (
        select(EmailLink.url)
        .where(
            or_(EmailLink.message_id == M.id, EmailLink.campaign_id == M.campaign_id),
            EmailLink.number == number,
        )
        .order_by(EmailLink.message_id.is_(None))
        .limit(1)
        .correlate(M)
        .scalar_subquery()
        .label("link_url")
    )


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def aware(value: datetime) -> datetime:
    """``value`` in UTC, marked so (SQLite hands some back naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _event_row(
    counters: Counters,
    kind: str,
    at: datetime,
    verdict: Verdict,
    source: str,
    url: str | None = None,
    implied: bool = False,
) -> dict[str, Any]:
    row = {
        "message_id": counters.message_id,
        "campaign_id": counters.values.get("campaign_id"),
        "type": kind[:16],
        "occurred_at": at,
        "url": url[:2000] if url else None,
        "source": source[:20],
        "machine": not verdict.human,
        "machine_reason": verdict.reason,
        "implied": implied,
    }
    counters.new_events.append(row)
    return row


def apply(
    counters: Counters,
    kind: str,
    at: datetime,
    verdict: Verdict,
    *,
    source: str,
    url: str | None = None,
) -> None:
    """One open, click or delivery of the message, in the order they are handled."""
    v = counters.values
    counters.changed = True
    if kind == "delivered":
        v["delivered_at"] = v["delivered_at"] or at
        _event_row(counters, kind, at, verdict, source)
    elif kind == "open":
        _open(counters, at, verdict, source)
    elif kind == "click":
        v["click_count"] += 1
        v["first_clicked_at"] = v["first_clicked_at"] or at
        v["last_clicked_at"] = at
        if verdict.human:
            v["human_click_count"] += 1
            v["first_human_click_at"] = v["first_human_click_at"] or at
        _implied_open(counters, at, verdict, source)
        _event_row(counters, kind, at, verdict, source, url)
    else:
        raise ValueError(f"not an engagement event: {kind!r}")


def _open(counters: Counters, at: datetime, verdict: Verdict, source: str) -> None:
    v = counters.values
    stand_in = next((i for i in counters.implied if i.human == verdict.human), None)
    if stand_in is not None:  # the open a click implied has arrived: the same open
        counters.implied.remove(stand_in)
        v["first_opened_at"] = _earliest(v["first_opened_at"], at)
        if verdict.human:
            v["first_human_open_at"] = _earliest(v["first_human_open_at"], at)
        real = {
            "occurred_at": at,
            "source": source[:20],
            "machine": not verdict.human,
            "machine_reason": verdict.reason,
            "implied": False,
        }
        if stand_in.row is not None:
            stand_in.row.update(real)
        else:
            counters.replaced.append({"event_id": stand_in.event_id, **real})
        return
    v["open_count"] += 1
    v["first_opened_at"] = v["first_opened_at"] or at
    v["last_opened_at"] = at
    if verdict.human:
        v["human_open_count"] += 1
        v["first_human_open_at"] = v["first_human_open_at"] or at
    _event_row(counters, "open", at, verdict, source)


def _implied_open(counters: Counters, at: datetime, verdict: Verdict, source: str) -> None:
    """A click proves an open: one more when none was seen yet (or, for a person's
    click, no human one)."""
    v = counters.values
    human = verdict.human and not v["human_open_count"]
    if not human and v["open_count"]:
        return
    v["open_count"] += 1
    v["first_opened_at"] = v["first_opened_at"] or at
    v["last_opened_at"] = at
    if human:
        v["human_open_count"] += 1
        v["first_human_open_at"] = v["first_human_open_at"] or at
    row = _event_row(counters, "open", at, verdict, source, implied=True)
    counters.implied.append(ImpliedOpen(human=verdict.human, row=row))


_MESSAGES = M.__table__
_EVENTS = EmailEvent.__table__
_WRITE = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in COUNTER_COLUMNS})
    .values(updated_at=bindparam("b_updated_at"))
)
_REPLACE = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("b_event_id"))
    .values(
        occurred_at=bindparam("b_occurred_at"),
        source=bindparam("b_source"),
        machine=bindparam("b_machine"),
        machine_reason=bindparam("b_machine_reason"),
        implied=bindparam("b_implied"),
    )
)


#: PostgreSQL writes it all in one statement with three JSON parameters (data-modifying
#: WITH clauses): one round trip for a pixel, and no thousand-row VALUES list or
#: executemany for a batch (they cost more to build and parse than to run).
_COLUMN_TYPES = {
    "message_id": "integer",
    "campaign_id": "integer",
    "type": "text",
    "occurred_at": "timestamptz",
    "url": "text",
    "source": "text",
    "machine": "boolean",
    "machine_reason": "text",
    "implied": "boolean",
    "event_id": "integer",
    "id": "integer",
    "updated_at": "timestamptz",
    **{name: "integer" if name.endswith("_count") else "timestamptz" for name in COUNTER_COLUMNS},
}
_NEW_EVENT = (
    "message_id", "campaign_id", "type", "occurred_at", "url", "source", "machine",
    "machine_reason", "implied",
)  # fmt: skip
_REPLACED = ("event_id", "occurred_at", "source", "machine", "machine_reason", "implied")
_COUNTERS = ("id", "updated_at", *COUNTER_COLUMNS)


def _record(names: Sequence[str]) -> str:
    return ", ".join(f"{name} {_COLUMN_TYPES[name]}" for name in names)


_WRITE_PG = text(
    "WITH counted AS (UPDATE email_message AS m SET "
    + ", ".join(f"{name} = v.{name}" for name in _COUNTERS[1:])
    + f" FROM json_to_recordset(CAST(:counters AS json)) AS v({_record(_COUNTERS)})"
    " WHERE m.id = v.id RETURNING m.id),"
    " replaced AS (UPDATE email_event AS e SET "
    + ", ".join(f"{name} = r.{name}" for name in _REPLACED[1:])
    + f" FROM json_to_recordset(CAST(:replaced AS json)) AS r({_record(_REPLACED)})"
    " WHERE e.id = r.event_id RETURNING e.id),"
    f" inserted AS (INSERT INTO email_event ({', '.join(_NEW_EVENT)})"
    f" SELECT {', '.join(_NEW_EVENT)}"
    f" FROM json_to_recordset(CAST(:events AS json)) AS t({_record(_NEW_EVENT)}) RETURNING id)"
    " SELECT (SELECT count(*) FROM counted), (SELECT count(*) FROM inserted)"
)
#: The same, and the transaction's commit does not wait for the WAL flush
#: (:data:`NOT_DURABLE`).
_WRITE_PG_NOT_DURABLE = text(_WRITE_PG.text + ", " + NOT_DURABLE)


_WRITE_PG_IF_UNCHANGED = text(
    "WITH counted AS (UPDATE email_message AS m SET "
    + ", ".join(f"{name} = v.{name}" for name in _COUNTERS[1:])
    + f" FROM json_to_recordset(CAST(:counters AS json)) AS v({_record(_COUNTERS)})"
    " WHERE m.id = v.id AND m.xmin = CAST(:version AS xid) RETURNING m.id),"
    f" inserted AS (INSERT INTO email_event ({', '.join(_NEW_EVENT)})"
    f" SELECT {', '.join(_NEW_EVENT)}"
    f" FROM json_to_recordset(CAST(:events AS json)) AS t({_record(_NEW_EVENT)})"
    " WHERE EXISTS (SELECT 1 FROM counted) RETURNING id),"
    " noted AS (UPDATE activity SET notes = :notes WHERE id = :activity_id"
    " AND EXISTS (SELECT 1 FROM counted) RETURNING id)"
    f" SELECT (SELECT count(*) FROM counted), (SELECT count(*) FROM inserted), {NOT_DURABLE}"
)


def write_if_unchanged(
    connection: Connection, counters: Counters, version: str, *, notes: str | None
) -> bool:
    """PostgreSQL, autocommit: store one message's counters, its new events and its
    activity's ``notes`` in one statement, only if its row is still ``version`` (the
    ``xmin`` it was read with: any write since made a new version); True when stored.
    Not durable (:data:`NOT_DURABLE`); no implied open replaced (clicks replace none)."""
    if counters.replaced:
        raise ValueError("write_if_unchanged stores no replaced implied open")
    values = {"id": counters.message_id, "updated_at": utcnow()}
    values |= {name: counters.values[name] for name in COUNTER_COLUMNS}
    stored = connection.execute(
        _WRITE_PG_IF_UNCHANGED,
        {
            "counters": json.dumps([values], default=_iso),
            "events": json.dumps(counters.new_events, default=_iso),
            "version": version,
            "notes": notes,
            "activity_id": counters.values.get("activity_id"),
        },
    ).one()
    if not stored[0]:
        return False
    counters.new_events, counters.changed = [], False
    return True


def write(all_counters: Sequence[Counters], *, durable: bool = True) -> int:
    """Store the changed counters (rows still locked), the new events and the implied
    opens that real ones replaced; how many events were inserted. ``durable=False``: the
    transaction's commit does not wait for the disk on PostgreSQL (:data:`NOT_DURABLE`)."""
    changed = [c for c in all_counters if c.changed]
    if not changed:
        return 0
    now = utcnow()
    connection = db.session.connection()
    counters = [
        {"id": c.message_id, "updated_at": now} | {name: c.values[name] for name in COUNTER_COLUMNS}
        for c in changed
    ]
    replaced = [dict(r) for c in changed for r in c.replaced]
    rows = [row for c in changed for row in c.new_events]
    if connection.dialect.name == "postgresql":
        connection.execute(
            _WRITE_PG if durable else _WRITE_PG_NOT_DURABLE,
            {
                "counters": json.dumps(counters, default=_iso),
                "replaced": json.dumps(replaced, default=_iso),
                "events": json.dumps(rows, default=_iso),
            },
        )
    else:
        connection.execute(_WRITE, [{f"b_{k}": v for k, v in row.items()} for row in counters])
        if replaced:
            connection.execute(_REPLACE, [{f"b_{k}": v for k, v in r.items()} for r in replaced])
        if rows:
            connection.execute(_EVENTS.insert(), rows)
    for c in changed:
        c.new_events, c.replaced, c.changed = [], [], False
    return len(rows)
