"""A provider's batch of deliveries, opens and clicks applied set-based.

SendGrid posts events a thousand at a time, and after a big send (Apple's proxy fetches
every pixel at delivery) they come by the hundred thousand. One event at a time cost a
transaction, a message lookup, a counter update, an event row and an activity note
each: 214 events/s (issue 26). Here a batch costs a handful of statements: the messages
looked up at once, their rows locked and counted (:mod:`blueprints.email.counters`), the
events inserted in one ``executemany``, the activities noted at once, and one
``message_events`` signal. Bounces, complaints, unsubscribes and the rest are few and
stay on the one-by-one path (:func:`blueprints.email.events.apply_event`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, select, update

from app.crm.imports.engine import in_values
from app.crm.models import Activity
from app.current import app_object
from app.extensions import db
from app.messaging import machine_signals
from app.signals import message_events
from blueprints.email import counters
from blueprints.email.events import EMAIL_PROVIDERS, when
from blueprints.email.models import EmailEvent, EmailMessage
from blueprints.email.tracking import activity_notes, relabel_burst

#: the kinds applied here; the others go one by one
BATCHED = ("email.delivered", "email.open", "email.click")
_ORDER = {"delivered": 0, "open": 1, "click": 2}
M = EmailMessage


def on_webhook_batch(
    sender: Flask, *, provider: str, events: list[tuple[int, str, dict[str, Any]]], **_: Any
) -> list[int]:
    """``webhook_batch_received`` receiver: the event ids applied here."""
    if provider not in EMAIL_PROVIDERS:
        return []
    mine = [(row_id, data) for row_id, kind, data in events if kind in BATCHED]
    if not mine:
        return []
    found = _messages([data for _row_id, data in mine])
    todo: dict[int, list[tuple[datetime, int, str, dict[str, Any]]]] = defaultdict(list)
    for _row_id, data in mine:
        message = found.get(_key(data))
        if message is not None:  # an event of a message we do not know changes nothing
            kind = str(data["type"])
            todo[message.id].append((when(data.get("occurredAt")), _ORDER[kind], kind, data))
    if todo:
        _apply(todo, {m.id: m for m in found.values()})
    return [row_id for row_id, _data in mine]


def _key(data: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    email = data.get("email")
    return (
        data.get("ourMessageId"),
        data.get("providerMessageId"),
        email.strip().lower() if isinstance(email, str) else None,
    )


def _messages(events: list[dict[str, Any]]) -> dict[tuple[str | None, ...], Any]:
    """The message of each event, as :func:`blueprints.email.tracking.find_message` finds
    it (our metadata id first, else the provider's id and the address), in two queries."""
    columns = (
        M.id,
        M.public_id,
        M.provider_message_id,
        M.to_address,
        M.customer_id,
        M.campaign_id,
        M.activity_id,
    )
    ours = {data.get("ourMessageId") for data in events} - {None}
    by_ours = {}
    if ours:
        rows = db.session.execute(
            select(*columns).where(in_values(M.public_id, sorted(ours)))
        ).all()
        by_ours = {row.public_id: row for row in rows}
    keys = {_key(data) for data in events}
    theirs = {k[1] for k in keys if k[1] and k[0] not in by_ours}
    by_theirs: dict[str, list[Any]] = defaultdict(list)
    if theirs:
        rows = db.session.execute(
            select(*columns).where(in_values(M.provider_message_id, sorted(theirs))).order_by(M.id)
        ).all()
        for row in rows:
            by_theirs[row.provider_message_id].append(row)
    found: dict[tuple[str | None, ...], Any] = {}
    for key in keys:
        our_id, their_id, email = key
        if our_id in by_ours:
            found[key] = by_ours[our_id]
        elif their_id:
            rows = [r for r in by_theirs.get(their_id, ()) if not email or r.to_address == email]
            if rows:
                found[key] = rows[0]
    return found


def _apply(
    todo: dict[int, list[tuple[datetime, int, str, dict[str, Any]]]], messages: dict[int, Any]
) -> None:
    rules = machine_signals.Rules.from_config(current_app.config)
    opens = [i for i, events in todo.items() if any(kind == "open" for *_, kind, _ in events)]
    locked = counters.lock(todo, opens=opens)
    earlier = _recent_clicks(todo)
    announced: list[dict[str, Any]] = []
    bursts: list[tuple[int, datetime]] = []
    open_verdicts: dict[tuple[bool, Any, Any], machine_signals.Verdict] = {}
    for message_id in sorted(locked):
        state = locked[message_id]
        clicks = earlier.get(message_id, [])
        for at, _, kind, data in sorted(todo[message_id], key=lambda e: e[:2]):
            source = str(data.get("provider") or "provider")
            verdict = machine_signals.HUMAN
            if kind == "open":
                seen = (bool(data.get("machine")), data.get("userAgent"), data.get("ip"))
                if seen not in open_verdicts:  # a batch's opens come from a few agents and networks
                    open_verdicts[seen] = machine_signals.classify_open(
                        provider_machine_flag=seen[0],
                        user_agent=seen[1],
                        ip=seen[2],
                        rules=rules,
                    )
                verdict = open_verdicts[seen]
            elif kind == "click":
                left = state.values["delivered_at"] or state.values["sent_at"]
                window = at - timedelta(minutes=1)
                verdict = machine_signals.classify_click(
                    url=str(data.get("url") or ""),
                    at=at,
                    sent_at=left,
                    earlier_clicks=[(u, t) for u, t in clicks if window <= t <= at],
                    user_agent=data.get("userAgent"),
                    ip=data.get("ip"),
                    rules=rules,
                )
                clicks.append((str(data.get("url") or ""), at))
                if verdict.reason == "burst":
                    bursts.append((message_id, at))
            counters.apply(state, kind, at, verdict, source=source, url=data.get("url"))
            message = messages[message_id]
            extra = {"human": verdict.human, "machineReason": verdict.reason}
            extra = extra if kind != "delivered" else {}
            if kind == "click":
                extra["url"] = data.get("url")
            announced.append(
                {
                    "message_id": message.public_id,
                    "event": kind,
                    "data": {
                        "source": source,
                        "customerId": message.customer_id,
                        "campaignId": message.campaign_id,
                        **extra,
                    },
                }
            )
    counters.write(list(locked.values()))
    for message_id, at in bursts:  # a scanner's burst: rare, one message at a time
        relabel_burst(message_id, at)
    _note_activities([messages[i] for i in locked if messages[i].activity_id])
    db.session.commit()
    message_events.send(app_object(), channel="email", events=announced)


def _recent_clicks(todo: dict[int, list[tuple[datetime, int, str, Any]]]) -> dict[int, list]:
    """The stored clicks of the messages in the minute before their batch's clicks."""
    times = [at for events in todo.values() for at, _, kind, _ in events if kind == "click"]
    if not times:
        return {}
    rows = db.session.execute(
        select(EmailEvent.message_id, EmailEvent.url, EmailEvent.occurred_at).where(
            in_values(EmailEvent.message_id, sorted(todo)),
            EmailEvent.type == "click",
            EmailEvent.occurred_at >= min(times) - timedelta(minutes=1),
            EmailEvent.occurred_at <= max(times),
        )
    ).all()
    found: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for message_id, url, at in rows:
        found[message_id].append((url or "", counters.aware(at)))
    return found


_NOTE = (
    update(Activity.__table__)
    .where(Activity.__table__.c.id == bindparam("b_id"))
    .values(notes=bindparam("b_notes"))
)


def _note_activities(messages: list[Any]) -> None:
    """The activity of each message says how often it was opened and clicked."""
    if not messages:
        return
    rows = db.session.execute(
        select(
            M.activity_id, M.open_count, M.first_opened_at, M.click_count, M.last_clicked_at
        ).where(in_values(M.id, [m.id for m in messages]))
    ).all()
    db.session.connection().execute(
        _NOTE,
        [{"b_id": row.activity_id, "b_notes": activity_notes(*row[1:])} for row in rows],
    )
