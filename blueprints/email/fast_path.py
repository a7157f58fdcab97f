"""The open pixel and the click redirect without a transaction on PostgreSQL: the hot
path after a big send (Apple's proxy fetches every pixel at delivery; security gateways
follow every link).

The general path (:func:`blueprints.email.tracking.record_engagement`) is a transaction:
begin, lock and read the counters (:mod:`blueprints.email.counters`), write, commit, a
round trip each. Here each statement commits on its own and a write applies only to the
row version it was decided on (``xmin``, the transaction that wrote the version: every
write makes a new one), so nothing waits on a lock between round trips:

* an open is one statement: it reads the row's version and whether an implied open
  waits for this open, then counts it on that version only, inserts the event and notes
  the activity from the updated row;
* a click is two: read the counters, the link and the clicks of the minute before; judge
  and count in Python (:func:`blueprints.email.counters.apply`, as the general path);
  write counters, events and activity note on that version only.

When a write changes nothing (an implied open to replace, a concurrent write, a scanner's
burst to relabel, no such message or link, or SQLite) the caller takes the general path,
which decides on the locked row: an event is counted exactly once either way, with the
same values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from app.current import app_object
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.models_base import utcnow
from app.signals import message_event
from blueprints.email import counters, tracking
from blueprints.email.counters import NOT_DURABLE

#: ``to_char`` of a UTC minute, as :func:`blueprints.email.tracking.activity_notes`
#: formats it (``%Y-%m-%d %H:%M``)
_MINUTE = "'YYYY-MM-DD HH24:MI'"
_NOTES = (
    "NULLIF(concat_ws(', ',"
    " CASE WHEN c.open_count > 0 AND c.first_opened_at IS NOT NULL THEN 'Opened '"
    f" || c.open_count || '× (first ' || to_char(c.first_opened_at AT TIME ZONE 'UTC', {_MINUTE})"
    " || ' UTC)' END,"
    " CASE WHEN c.click_count > 0 AND c.last_clicked_at IS NOT NULL THEN 'clicked '"
    f" || c.click_count || '× (last ' || to_char(c.last_clicked_at AT TIME ZONE 'UTC', {_MINUTE})"
    " || ' UTC)' END), '')"
)
#: The open (``stand_in``: the implied open of the same kind, human or machine, this
#: open takes the place of, as :func:`blueprints.email.counters.apply` decides)
_FRESH = "s.stand_in IS NULL"
_OPEN = text(
    "WITH seen AS (SELECT m.xmin AS version, (SELECT e.id FROM email_event AS e"
    " WHERE e.message_id = m.id AND e.type = 'open' AND e.implied AND e.machine = :machine"
    " ORDER BY e.id LIMIT 1) AS stand_in FROM email_message AS m WHERE m.id = :id),"
    " counted AS (UPDATE email_message AS m SET"
    f" open_count = m.open_count + CASE WHEN {_FRESH} THEN 1 ELSE 0 END,"
    " human_open_count = m.human_open_count"
    f" + CASE WHEN {_FRESH} AND NOT :machine THEN 1 ELSE 0 END,"
    f" first_opened_at = CASE WHEN {_FRESH} THEN coalesce(m.first_opened_at, :at)"
    " ELSE least(m.first_opened_at, :at) END,"
    f" last_opened_at = CASE WHEN {_FRESH} THEN :at ELSE m.last_opened_at END,"
    " first_human_open_at = CASE WHEN :machine THEN m.first_human_open_at"
    f" WHEN {_FRESH} THEN coalesce(m.first_human_open_at, :at)"
    " ELSE least(m.first_human_open_at, :at) END, updated_at = :at"
    " FROM seen AS s WHERE m.id = :id AND m.xmin = s.version"
    " RETURNING m.id, m.campaign_id, m.public_id, m.customer_id, m.activity_id,"
    " m.open_count, m.first_opened_at, m.click_count, m.last_clicked_at, s.stand_in),"
    " replaced AS (UPDATE email_event AS e SET occurred_at = :at, source = :source,"
    " machine = :machine, machine_reason = :reason, implied = false"
    " FROM counted AS c WHERE e.id = c.stand_in RETURNING e.id),"
    " inserted AS (INSERT INTO email_event (message_id, campaign_id, type, occurred_at,"
    " source, machine, machine_reason, implied)"
    " SELECT c.id, c.campaign_id, 'open', :at, :source, :machine, :reason, false"
    " FROM counted AS c WHERE c.stand_in IS NULL RETURNING id),"
    f" noted AS (UPDATE activity AS a SET notes = {_NOTES}"
    " FROM counted AS c WHERE a.id = c.activity_id RETURNING a.id)"
    " SELECT c.id, c.public_id, c.customer_id, c.campaign_id, (SELECT count(*) FROM seen) AS seen,"
    " (SELECT count(*) FROM inserted), (SELECT count(*) FROM replaced),"
    f" (SELECT count(*) FROM noted), {NOT_DURABLE} FROM (SELECT 1) AS one"
    " LEFT JOIN counted AS c ON true"
)
#: tries before the general path: a second one when a concurrent write came first
TRIES = 2


def record_open(
    message_id: int, verdict: Verdict, *, at: datetime | None = None, source: str = "tracking"
) -> bool:
    """Count an open of the message in one statement; False when this path changed
    nothing and the general one must decide (see the module's docstring)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    params = {
        "id": message_id,
        "machine": not verdict.human,
        "reason": verdict.reason,
        "at": at or utcnow(),
        "source": source[:20],
    }
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for _ in range(TRIES):
            row = connection.execute(_OPEN, params).one()
            if row.id is not None or not row.seen:  # counted, or no such message
                break
    if row.id is None:
        return False
    _written_outside_the_session()
    message_event.send(
        app_object(),
        channel="email",
        message_id=row.public_id,
        event="open",
        data={
            "url": None,
            "source": source,
            "customerId": row.customer_id,
            "campaignId": row.campaign_id,
            "human": verdict.human,
            "machineReason": verdict.reason,
        },
    )
    return True


def _written_outside_the_session() -> None:
    """The request's session may hold the message or its activity (nothing, on the
    pixel's own request): it reads them again, as after the general path's commit."""
    db.session.expire_all()


_COLUMNS = (*counters.COUNTER_COLUMNS, *counters.CONTEXT_COLUMNS)
_READ_CLICK = text(
    "SELECT m.xmin::text AS version, "
    + ", ".join(f"m.{name}" for name in _COLUMNS)
    + ", (SELECT l.url FROM email_link AS l WHERE (l.message_id = m.id"
    " OR l.campaign_id = m.campaign_id) AND l.number = :number"
    " ORDER BY l.message_id IS NULL LIMIT 1) AS link_url,"
    " ARRAY(SELECT e.url FROM email_event AS e WHERE e.message_id = m.id AND e.type = 'click'"
    " AND e.occurred_at >= :since AND e.occurred_at <= :at ORDER BY e.id) AS earlier_urls,"
    " ARRAY(SELECT e.occurred_at FROM email_event AS e WHERE e.message_id = m.id"
    " AND e.type = 'click' AND e.occurred_at >= :since AND e.occurred_at <= :at ORDER BY e.id)"
    " AS earlier_times FROM email_message AS m WHERE m.id = :id"
)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def record_click(message_id: int, number: int) -> str | None:
    """Count a click of the message's link ``number`` in two statements; the link's URL,
    or None when this path changed nothing and the general one must decide (see the
    module's docstring)."""
    if db.session.get_bind().dialect.name != "postgresql" or not 0 <= number < 2**31:
        return None
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for _ in range(TRIES):
            counted = _click(connection, message_id, number)
            if counted != CONFLICT:
                break
    if not isinstance(counted, tuple):
        return None
    url, verdict, v = counted
    _written_outside_the_session()
    message_event.send(
        app_object(),
        channel="email",
        message_id=v["public_id"],
        event="click",
        data={
            "url": url,
            "source": "tracking",
            "customerId": v["customer_id"],
            "campaignId": v["campaign_id"],
            "human": verdict.human,
            "machineReason": verdict.reason,
        },
    )
    return url


CONFLICT = "conflict"


def _click(
    connection: Connection, message_id: int, number: int
) -> tuple[str, Verdict, dict[str, Any]] | str | None:
    """One try: the URL, the verdict and the values stored; :data:`CONFLICT` when a
    concurrent write came first; None when the general path must decide."""
    at = utcnow()
    params = {"id": message_id, "number": number, "since": at - timedelta(minutes=1), "at": at}
    row = connection.execute(_READ_CLICK, params).mappings().first()
    if row is None:
        return None  # no such message
    url = row["link_url"]
    if url is None or not url.lower().startswith(("http://", "https://")):
        return None  # no such link, or a legacy campaign's
    state = counters.Counters(message_id, {name: _utc(row[name]) for name in _COLUMNS})
    earlier = [
        (u or "", _utc(t)) for u, t in zip(row["earlier_urls"], row["earlier_times"], strict=True)
    ]
    verdict = tracking.click_verdict(state, url, at=at, earlier=earlier)
    if verdict.reason == "burst":
        return None  # the burst's earlier clicks are relabelled on the locked row
    counters.apply(state, "click", at, verdict, source="tracking", url=url)
    v = state.values
    notes = tracking.activity_notes(
        v["open_count"], v["first_opened_at"], v["click_count"], v["last_clicked_at"]
    )
    if not counters.write_if_unchanged(connection, state, row["version"], notes=notes):
        return CONFLICT
    return url, verdict, v
