"""Opt-outs in a period, per channel, from the consent ledger (a core table)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.crm.models import ConsentChange
from app.dashboard.metrics import Scope
from app.extensions import db


def opt_outs(scope: Scope, channel: str) -> int:
    stmt = select(func.count()).where(
        ConsentChange.channel == channel,
        ConsentChange.status == "opted_out",
        ConsentChange.effective.is_(True),
        ConsentChange.changed_at >= scope.since,
        ConsentChange.changed_at < scope.until,
    )
    clause = scope.customer_clause(ConsentChange.customer_id)
    if clause is not None:
        stmt = stmt.where(clause)
    return int(db.session.scalar(stmt) or 0)
