"""Where flows hear of what happened: signal receivers and the daily "no order" job.

Receivers only enqueue a job (when some active flow cares), so the request or import that
sent the signal is not slowed by flow work; the job enters and exits runs.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import exists, func, select

from app import jobs
from app.campaigns.zones import zone
from app.crm.models import CommunicationPreference, Customer, Territory
from app.extensions import db
from app.flows import dates, engine
from app.flows.models import UNFINISHED, Flow, FlowRun
from app.models_base import utcnow
from app.signals import (
    customer_opted_out,
    engagement_scores_changed,
    inbound_sms,
    list_members_added,
    message_event,
    message_events,
    orders_placed,
)

EVENT_JOB = "app.flows.triggers:handle"


def _cares(trigger_type: str, exit_column: Any = None) -> bool:
    """Is any active flow triggered by this, or (with ``exit_column``) exiting on it?"""
    cond = Flow.trigger_type == trigger_type
    if exit_column is not None:
        cond = cond | exit_column.is_(True)
    return (
        db.session.scalar(select(Flow.id).where(Flow.status == "active", cond).limit(1)) is not None
    )


def handle(event: str, customer_ids: list[int], detail: dict[str, Any] | None = None) -> int:
    """Job: what an event means for flows: exits first, then entries."""
    detail = detail or {}
    if event == "order":
        engine.exit_runs(customer_ids, "ordered")
        return engine.enter_many("order_placed", customer_ids)
    if event == "reply":
        engine.exit_runs(customer_ids, "replied")
        body = str(detail.get("body") or "").strip().upper()
        first = body.split()[0] if body.split() else ""

        def keyword_matches(config: dict[str, Any]) -> bool:
            return not config.get("keyword") or config["keyword"] == first

        return engine.enter_many("sms_reply", customer_ids, keyword_matches)
    if event == "opt_out":
        return engine.exit_runs(customer_ids, "opted_out")
    if event == "list":
        list_id = detail.get("listId")
        return engine.enter_many(
            "list_joined", customer_ids, lambda config: config.get("listId") == list_id
        )
    if event == "click":
        campaign_id = detail.get("campaignId")

        def campaign_matches(config: dict[str, Any]) -> bool:
            return not config.get("campaign") or config["campaign"] == campaign_id

        return engine.enter_many("clicked", customer_ids, campaign_matches)
    if event == "score":
        return _enter_crossings(detail.get("changes") or [])
    raise ValueError(f"unknown flow event {event!r}")


def _on_orders(_sender: Any, *, customer_ids: list[int], **_: Any) -> None:
    if customer_ids and _cares("order_placed", Flow.exit_on_order):
        jobs.enqueue(EVENT_JOB, "order", list(customer_ids))


def _on_inbound(_sender: Any, *, customer_id: int | None, data: dict[str, Any], **_: Any) -> None:
    if customer_id is not None and _cares("sms_reply", Flow.exit_on_reply):
        jobs.enqueue(EVENT_JOB, "reply", [customer_id], {"body": str(data.get("Body") or "")})


def _on_opt_out(_sender: Any, *, customer_id: int | None = None, **_: Any) -> None:
    if customer_id is None:
        return
    unfinished = db.session.scalar(
        select(FlowRun.id)
        .where(FlowRun.customer_id == customer_id, FlowRun.state.in_(UNFINISHED))
        .limit(1)
    )
    if unfinished is not None:
        jobs.enqueue(EVENT_JOB, "opt_out", [customer_id])


def _on_list(_sender: Any, *, list_id: str, customer_ids: list[int], **_: Any) -> None:
    if customer_ids and _cares("list_joined"):
        jobs.enqueue(EVENT_JOB, "list", list(customer_ids), {"listId": list_id})


def _on_message_event(
    _sender: Any, *, event: str, data: dict[str, Any] | None = None, **_: Any
) -> None:
    data = data or {}
    customer_id = data.get("customerId")
    if event != "click" or not data.get("human") or not isinstance(customer_id, int):
        return
    if _cares("clicked"):
        jobs.enqueue(EVENT_JOB, "click", [customer_id], {"campaignId": data.get("campaignId")})


def _on_message_events(_sender: Any, *, events: list[dict[str, Any]], **_: Any) -> None:
    """A provider's batch of events: its human clicks as :func:`_on_message_event`, one
    job per campaign clicked."""
    if not _cares("clicked"):
        return
    by_campaign: dict[Any, list[int]] = {}
    for item in events:
        data = item.get("data") or {}
        customer_id = data.get("customerId")
        if item.get("event") == "click" and data.get("human") and isinstance(customer_id, int):
            by_campaign.setdefault(data.get("campaignId"), []).append(customer_id)
    for campaign_id, customer_ids in by_campaign.items():
        unique = sorted(set(customer_ids))
        jobs.enqueue(EVENT_JOB, "click", unique, {"campaignId": campaign_id})


def _enter_crossings(changes: list[list[int]]) -> int:
    """Enter each customer whose score went from below a flow's threshold to at or above
    it: once per crossing (staying above enters nothing; falling and rising again does)."""
    entered = 0
    flows = db.session.scalars(
        select(Flow).where(Flow.status == "active", Flow.trigger_type == "score_reached")
    ).all()
    for flow in flows:
        threshold = int((flow.trigger_config or {}).get("threshold") or 0)
        if threshold < 1:
            continue
        crossed = [c for c, before, after in changes if before < threshold <= after]
        entered += len(engine.enter_set(flow, crossed))
    return entered


def _on_scores(_sender: Any, *, changes: list[list[int]], **_: Any) -> None:
    rising = [c for c in changes if c[2] > c[1]]
    if rising and _cares("score_reached"):
        jobs.enqueue(EVENT_JOB, "score", [c[0] for c in rising], {"changes": rising})


def no_order_daily() -> int:
    """Periodic (daily): enter, set-based per flow, the customers whose last order is
    more than the flow's N days old and who have not entered it since that order."""
    entered = 0
    today = utcnow().date()
    flows = db.session.scalars(
        select(Flow).where(Flow.status == "active", Flow.trigger_type == "no_order")
    ).all()
    for flow in flows:
        days = int((flow.trigger_config or {}).get("days") or 0)
        if days < 1:
            continue
        cutoff = today - timedelta(days=days)
        since_order = exists().where(
            FlowRun.flow_id == flow.id,
            FlowRun.customer_id == Customer.id,
            func.date(FlowRun.entered_at) >= Customer.last_order_date,
        )
        ids = db.session.scalars(
            select(Customer.id).where(
                Customer.archived.is_(False),
                Customer.last_order_date.is_not(None),
                Customer.last_order_date < cutoff,
                ~since_order,
            )
        ).all()
        entered += len(engine.enter_set(flow, ids))
    return entered


def _month_days(day: date) -> set[str]:
    """The "MM-DD" a yearly date falls on ``day`` for (29 February on the 28th when the
    year has none)."""
    found = {day.strftime("%m-%d")}
    if found == {"02-28"} and not calendar.isleap(day.year):
        found.add("02-29")
    return found


def date_field_daily(now: datetime | None = None) -> int:
    """Periodic (daily): enter, per flow, the customers whose watched date (a custom field
    or a built-in column, :mod:`app.flows.dates`) is ``offsetDays`` from today on their own
    clock (negative: before it): its month and day every year (``yearly``, an
    anniversary), or the date itself once. One query per flow for the few dates any zone
    can be on; the customer's own day is then picked in Python. Not twice within two days
    (a job run again the same day); each year's entry obeys the flow's re-entry rule."""
    now = now or utcnow()
    entered = 0
    flows = db.session.scalars(
        select(Flow).where(Flow.status == "active", Flow.trigger_type == "date_field")
    ).all()
    zone_expr = func.coalesce(CommunicationPreference.timezone, Territory.timezone)
    for flow in flows:
        config = flow.trigger_config or {}
        name = str(config.get("field") or "")
        if not name:
            continue
        offset = timedelta(days=int(config.get("offsetDays") or 0))
        yearly = config.get("yearly", True) is not False
        days_of = _month_days if yearly else _the_day
        # the watched day for a customer whose local date is D is D - offset
        candidates: set[str] = set()
        for delta in (-1, 0, 1):  # every zone is within a day of UTC
            candidates |= days_of((now + timedelta(days=delta)).date() - offset)
        text = dates.iso_text(name)
        watched = func.substr(text, 6, 5) if yearly else func.substr(text, 1, 10)
        recent = exists().where(
            FlowRun.flow_id == flow.id,
            FlowRun.customer_id == Customer.id,
            FlowRun.entered_at >= now - timedelta(days=2),
        )
        rows = db.session.execute(
            select(Customer.id, zone_expr, watched)
            .outerjoin(CommunicationPreference, CommunicationPreference.customer_id == Customer.id)
            .outerjoin(Territory, Territory.id == Customer.territory_id)
            .where(Customer.archived.is_(False), watched.in_(sorted(candidates)), ~recent)
        ).all()
        today = [
            customer_id
            for customer_id, zone_name, falls_on in rows
            if falls_on in days_of(now.astimezone(zone(zone_name)).date() - offset)
        ]  # the others: another zone's day
        entered += len(engine.enter_set(flow, today))
    return entered


def _the_day(day: date) -> set[str]:
    return {day.isoformat()}


def init_app(app: Flask) -> None:
    for signal, receiver in (
        (orders_placed, _on_orders),
        (inbound_sms, _on_inbound),
        (customer_opted_out, _on_opt_out),
        (list_members_added, _on_list),
        (message_event, _on_message_event),
        (message_events, _on_message_events),
        (engagement_scores_changed, _on_scores),
    ):
        signal.connect(receiver, sender=app, weak=False)
