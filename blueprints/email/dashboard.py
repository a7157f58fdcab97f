"""The email channel's dashboard figures: human and machine engagement, bounces,
complaints and opt-outs, per week and per kind of recipient domain."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import Select, and_, case, func, select

from app.dashboard.consent_figures import opt_outs
from app.dashboard.metrics import Scope, register, week_of
from app.extensions import db
from app.moments import utc_day
from blueprints.email.models import EmailEvent, EmailMessage

#: machine reasons that show a security gateway between us and the person
GATEWAY_REASONS = ("scanner_network", "burst", "too_soon", "scanner_agent")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def figures(scope: Scope) -> dict[str, Any]:
    totals = [0] * 8
    kinds: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in ("consumer", "business", "gateway")}
    weekly: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row_day, consumer, *counts in db.session.execute(_one_scan(scope)):
        numbers = [int(n or 0) for n in counts]
        totals = [a + b for a, b in zip(totals, numbers[:8], strict=True)]
        sent_n, delivered_n, opened, clicked, _, _, bounced, _ = numbers[:8]
        behind = numbers[8:]  # the same four figures, of the messages behind a gateway
        mailbox = kinds["consumer" if consumer else "business"]
        for index, value in enumerate((sent_n, delivered_n, opened, bounced)):
            kinds["gateway"][index] += behind[index]
            mailbox[index] += value - behind[index]
        the_day = row_day if isinstance(row_day, date) else date.fromisoformat(str(row_day))
        bucket = weekly[week_of(the_day)]
        bucket[0] += sent_n
        bucket[1] += opened
        bucket[2] += clicked
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


def _one_scan(scope: Scope) -> Select[*tuple[Any, ...]]:
    """The period's messages in one GROUP BY on (day sent, consumer mailbox): the totals,
    the weeks and the split by domain kind are all sums of its few rows (at most days x 2);
    the last four sums count the messages behind a security gateway apart. Consumer
    mailboxes are a stored flag (:mod:`blueprints.email.domains`); a gateway is a message
    that drew a scanner's open or click, a join on the small set of such messages (the
    partial machine index). Grouped on the day and the flag alone, SQLite reads its
    (day, flag, ...) index in order and sorts nothing (migration 0049)."""
    m = EmailMessage
    day = utc_day(m.sent_at)
    where = [m.sent_at >= scope.since, m.sent_at < scope.until]
    # the same period in whole UTC days: lets SQLite read its (day, ...) index in order
    where += [day >= scope.start, day < scope.end]
    clause = scope.customer_clause(m.customer_id)
    if clause is not None:
        where.append(clause)
    gateway = (
        select(EmailEvent.message_id)
        .where(EmailEvent.machine.is_(True), EmailEvent.machine_reason.in_(GATEWAY_REASONS))
        .distinct()
        .subquery()
    )
    behind = gateway.c.message_id.is_not(None)

    def behind_count(column: Any) -> Any:
        return func.count(case((behind, column)))

    return (
        select(
            day,  # PostgreSQL keeps statistics on it: few groups, hashed
            m.consumer_mailbox,
            func.count(m.sent_at),
            func.count(m.delivered_at),
            func.count(m.first_human_open_at),
            func.count(m.first_human_click_at),
            func.sum(case((and_(m.open_count > 0, m.human_open_count == 0), 1), else_=0)),
            func.coalesce(func.sum(m.click_count - m.human_click_count), 0),
            func.count(m.bounced_at),
            func.count(m.complained_at),
            behind_count(m.sent_at),
            behind_count(m.delivered_at),
            behind_count(m.first_human_open_at),
            behind_count(m.bounced_at),
        )
        .outerjoin(gateway, gateway.c.message_id == m.id)
        .where(*where)
        .group_by(day, m.consumer_mailbox)
    )


def register_figures(app: Flask) -> None:
    register(app, "email", figures)
