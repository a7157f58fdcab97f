"""The email channel's dashboard figures: human and machine engagement, bounces,
complaints and opt-outs, per week and per kind of recipient domain."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import and_, case, func, or_, select

from app.dashboard.consent_figures import opt_outs
from app.dashboard.metrics import Scope, register, week_of
from app.extensions import db
from blueprints.email.models import EmailEvent, EmailMessage

#: free mailbox providers (consumer); anything else is a business domain
CONSUMER_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
        "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "web.de", "orange.fr", "free.fr", "comcast.net",
    }
)  # fmt: skip
#: machine reasons that show a security gateway between us and the person
GATEWAY_REASONS = ("scanner_network", "burst", "too_soon", "scanner_agent")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def figures(scope: Scope) -> dict[str, Any]:
    m = EmailMessage
    where = [m.sent_at >= scope.since, m.sent_at < scope.until]
    clause = scope.customer_clause(m.customer_id)
    if clause is not None:
        where.append(clause)
    totals = db.session.execute(
        select(
            func.count(m.sent_at),
            func.count(m.delivered_at),
            func.count(m.first_human_open_at),
            func.count(m.first_human_click_at),
            func.sum(case((and_(m.open_count > 0, m.human_open_count == 0), 1), else_=0)),
            func.coalesce(func.sum(m.click_count - m.human_click_count), 0),
            func.count(m.bounced_at),
            func.count(m.complained_at),
        ).where(*where)
    ).one()
    (
        sent,
        delivered,
        human_opens,
        human_clicks,
        machine_opens,
        machine_clicks,
        bounces,
        complaints,
    ) = (int(v or 0) for v in totals)
    base = delivered or sent
    weekly: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_day = db.session.execute(
        select(
            func.date(m.sent_at),
            func.count(),
            func.count(m.first_human_open_at),
            func.count(m.first_human_click_at),
        )
        .where(*where)
        .group_by(func.date(m.sent_at))
    )
    for day, n, opened, clicked in per_day:
        the_day = day if isinstance(day, date) else date.fromisoformat(str(day))
        bucket = weekly[week_of(the_day)]
        bucket[0] += int(n)
        bucket[1] += int(opened)
        bucket[2] += int(clicked)
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
        "byDomainType": _by_domain_type(where),
    }


def _by_domain_type(where: list[Any]) -> dict[str, dict[str, Any]]:
    """Consumer mailboxes, business domains, and those behind a security gateway (their
    messages drew scanner clicks or opens), counted in the database: one GROUP BY, an
    EXISTS per message on the event index (no rows read into Python)."""
    m = EmailMessage
    gateway = (
        select(EmailEvent.id)
        .where(
            EmailEvent.message_id == m.id,
            EmailEvent.machine.is_(True),
            EmailEvent.machine_reason.in_(GATEWAY_REASONS),
        )
        .exists()
    )
    address = func.lower(m.to_address)
    consumer = or_(*(address.like(f"%@{domain}") for domain in sorted(CONSUMER_DOMAINS)))
    per_message = (
        select(
            case((gateway, "gateway"), (consumer, "consumer"), else_="business").label("kind"),
            m.delivered_at,
            m.first_human_open_at,
            m.bounced_at,
        )
        .where(*where)
        .subquery()
    )
    rows = db.session.execute(
        select(
            per_message.c.kind,
            func.count(),
            func.count(per_message.c.delivered_at),
            func.count(per_message.c.first_human_open_at),
            func.count(per_message.c.bounced_at),
        ).group_by(per_message.c.kind)
    )
    out: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in ("consumer", "business", "gateway")}
    for kind, *counts in rows:
        out[kind] = [int(n) for n in counts]
    return {
        kind: {
            "sent": sent,
            "deliveryRate": _rate(delivered, sent),
            "humanOpenRate": _rate(opened, sent),
            "bounceRate": _rate(bounced, sent),
        }
        for kind, (sent, delivered, opened, bounced) in out.items()
    }


def register_figures(app: Flask) -> None:
    register(app, "email", figures)
