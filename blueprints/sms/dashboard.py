"""The SMS channel's dashboard figures: texts sent and delivered, replies, opt-outs."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.dashboard.consent_figures import opt_outs
from app.dashboard.metrics import Scope, register
from app.extensions import db
from blueprints.sms.models import SmsMessage


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def figures(scope: Scope) -> dict[str, Any]:
    m = SmsMessage
    clause = scope.customer_clause(m.customer_id)
    outbound = [m.direction == "outbound", m.sent_at >= scope.since, m.sent_at < scope.until]
    inbound = [m.direction == "inbound", m.created_at >= scope.since, m.created_at < scope.until]
    if clause is not None:
        outbound.append(clause)
        inbound.append(clause)
    sent, delivered, failed = (
        int(v or 0)
        for v in db.session.execute(
            select(
                func.count(),
                func.count(m.delivered_at),
                func.sum(func.coalesce((m.delivery_status == "failed").cast(db.Integer), 0)),
            ).where(*outbound)
        ).one()
    )
    replies = int(db.session.scalar(select(func.count()).where(*inbound)) or 0)
    stopped = opt_outs(scope, "sms")
    return {
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "replies": replies,
        "optOuts": stopped,
        "deliveryRate": _rate(delivered, sent),
        "optOutRate": _rate(stopped, sent),
        "replyRate": _rate(replies, sent),
    }


def register_figures(app: Flask) -> None:
    register(app, "sms", figures)
