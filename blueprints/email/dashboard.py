"""The email channel's dashboard figures: human and machine engagement, bounces,
complaints and opt-outs, per week and per kind of recipient domain."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import ColumnElement, Select, and_, case, func, select

from app.dashboard.consent_figures import opt_outs
from app.dashboard.metrics import Scope, register
from app.extensions import db
from app.moments import utc_day, week_of
from blueprints.email.models import EmailEvent, EmailMessage

#: machine reasons that show a security gateway between us and the person
GATEWAY_REASONS = ("scanner_network", "burst", "too_soon", "scanner_agent")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def figures(scope: Scope) -> dict[str, Any]:
    totals = [0] * 8
    kinds: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in ("consumer", "business", "gateway")}
    weekly: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, consumer, *counts in db.session.execute(_by_day(scope)):
        numbers = [int(n or 0) for n in counts]
        totals = [a + b for a, b in zip(totals, numbers, strict=True)]
        sent_n, delivered_n, opened, clicked, _, _, bounced, _ = numbers
        mailbox = kinds["consumer" if consumer else "business"]
        for index, value in enumerate((sent_n, delivered_n, opened, bounced)):
            mailbox[index] += value
        the_day = day if isinstance(day, date) else date.fromisoformat(str(day))
        bucket = weekly[week_of(the_day)]
        bucket[0] += sent_n
        bucket[1] += opened
        bucket[2] += clicked
    # a message behind a gateway counts there, not with its mailbox's kind
    for consumer, *counts in db.session.execute(_behind_gateway(scope)):
        mailbox = kinds["consumer" if consumer else "business"]
        for index, value in enumerate(counts):
            kinds["gateway"][index] += int(value or 0)
            mailbox[index] -= int(value or 0)
    (
        sent,
        delivered,
        human_opens,
        human_clicks,
        machine_opens,
        machine_clicks,
        bounces,
        complaints,
    ) = totals
    base = delivered or sent
    by_week = [
        {
            "week": week.isoformat(),
            "sent": weekly[week][0],
            "humanOpenRate": _rate(weekly[week][1], weekly[week][0]),
            "humanClickRate": _rate(weekly[week][2], weekly[week][0]),
        }
        for week in scope.weeks()
    ]
    return {
        "sent": sent,
        "delivered": delivered,
        "humanOpens": human_opens,
        "humanClicks": human_clicks,
        "machineOpens": machine_opens,
        "machineClicks": machine_clicks,
        "humanOpenRate": _rate(human_opens, base),
        "humanClickRate": _rate(human_clicks, base),
        "machineOpenRate": _rate(machine_opens, base),
        "bounces": bounces,
        "complaints": complaints,
        "unsubscribes": opt_outs(scope, "email"),
        "byWeek": by_week,
        "byDomainType": {
            kind: {
                "sent": n,
                "deliveryRate": _rate(delivered_n, n),
                "humanOpenRate": _rate(opened, n),
                "bounceRate": _rate(bounced, n),
            }
            for kind, (n, delivered_n, opened, bounced) in kinds.items()
        },
    }


def _period(scope: Scope) -> list[ColumnElement[bool]]:
    m = EmailMessage
    where = [m.sent_at >= scope.since, m.sent_at < scope.until]
    # the same period in whole UTC days: lets SQLite read its (day, ...) index in order
    where += [utc_day(m.sent_at) >= scope.start, utc_day(m.sent_at) < scope.end]
    clause = scope.customer_clause(m.customer_id)
    if clause is not None:
        where.append(clause)
    return where


def _by_day(scope: Scope) -> Select[*tuple[Any, ...]]:
    """The period's messages in one GROUP BY on (day sent, consumer mailbox): the totals,
    the weeks and the split by mailbox kind are all sums of its few rows (at most days x
    2). Consumer mailboxes are a stored flag (:mod:`blueprints.email.domains`). Grouped on
    these two alone, SQLite reads its (day, flag, counted columns) index in order, without
    sorting or visiting the table (migration 0049); PostgreSQL hashes the few groups (it
    keeps statistics on the day, 0046)."""
    m = EmailMessage
    day = utc_day(m.sent_at)
    return (
        select(
            day,
            m.consumer_mailbox,
            *_counted(),
            func.count(m.first_human_click_at),
            func.sum(case((and_(m.open_count > 0, m.human_open_count == 0), 1), else_=0)),
            func.coalesce(func.sum(m.click_count - m.human_click_count), 0),
            func.count(m.bounced_at),
            func.count(m.complained_at),
        )
        .where(*_period(scope))
        .group_by(day, m.consumer_mailbox)
    )


def _counted() -> list[Any]:
    m = EmailMessage
    return [func.count(m.sent_at), func.count(m.delivered_at), func.count(m.first_human_open_at)]


def _behind_gateway(scope: Scope) -> Select[*tuple[Any, ...]]:
    """Sent, delivered, opened by a person and bounced among the period's messages behind
    a security gateway (one that drew a scanner's open or click), per mailbox kind: read
    from the few such messages (the partial index of machine events), not per message."""
    m = EmailMessage
    gateway = (
        select(EmailEvent.message_id)
        .where(EmailEvent.machine.is_(True), EmailEvent.machine_reason.in_(GATEWAY_REASONS))
        .distinct()
        .subquery()
    )
    return (
        select(m.consumer_mailbox, *_counted(), func.count(m.bounced_at))
        .join(gateway, gateway.c.message_id == m.id)
        .where(*_period(scope))
        .group_by(m.consumer_mailbox)
    )


def register_figures(app: Flask) -> None:
    register(app, "email", figures)
