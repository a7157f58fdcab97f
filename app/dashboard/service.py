"""The marketing dashboard's figures: revenue attributed, top campaigns, each channel's
engagement and compliance, for a period and a territory (a rep: their own)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.attribution.models import OrderTouch, attributed_in
from app.attribution.reports import attributed_revenue, campaign_revenue
from app.crm.models import Customer, Territory
from app.crm.references import named_by
from app.dashboard.metrics import Scope, providers
from app.errors import Invalid
from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow

#: Gmail's and Yahoo's bulk-sender rules (2024): keep spam complaints under 0.1%, never
#: reach 0.3%; a bounce rate over 2% is a list problem by common practice.
COMPLAINT_TARGET, COMPLAINT_LIMIT, BOUNCE_LIMIT = 0.001, 0.003, 0.02
MAX_DAYS = 730


def scope_for(user: Any, start: date | None, end: date | None, territory: str | None) -> Scope:
    """The period (default: the last 30 days) and territory a user may see."""
    end = end or (utcnow().date() + timedelta(days=1))
    start = start or end - timedelta(days=30)
    if start >= end:
        raise Invalid("Bad period", {"from": "must be before to"})
    if (end - start).days > MAX_DAYS:
        raise Invalid("Bad period", {"from": f"a period is at most {MAX_DAYS} days"})
    territory_id = None
    if territory:
        found = db.session.scalar(
            select(Territory.id).where(
                (Territory.name == territory) | named_by(Territory, territory)
            )
        )
        if found is None:
            raise Invalid("Unknown territory", {"territory": "no such territory"})
        territory_id = found
    if not user.sees_all_territories:
        if territory_id is not None and territory_id != user.territory_id:
            raise Invalid("Not your territory", {"territory": "a rep sees their own territory"})
        territory_id = user.territory_id if user.territory_id is not None else -1
    return Scope(start, end, territory_id)


def _money(value: Any) -> str:
    return f"{Decimal(value or 0):.2f}"


def revenue_by_week(scope: Scope) -> list[dict[str, Any]]:
    """Revenue credited per week, from the order touches alone (each carries its order's
    date, week and total): the period's weeks, the days outside the period left out."""
    week = OrderTouch.order_week
    stmt = (
        select(week, func.sum(OrderTouch.total), func.count())
        .where(*attributed_in(scope.start, scope.end))
        .group_by(week)
    )
    clause = scope.customer_clause(OrderTouch.customer_id)
    if clause is not None:
        stmt = stmt.where(clause)
    revenue: dict[date, Decimal] = dict.fromkeys(scope.weeks(), Decimal(0))
    orders: dict[date, int] = dict.fromkeys(scope.weeks(), 0)
    for monday, total, count in db.session.execute(stmt):
        revenue[monday] = Decimal(total or 0)
        orders[monday] = int(count)
    return [
        {"week": monday.isoformat(), "revenue": _money(revenue[monday]), "orders": orders[monday]}
        for monday in sorted(revenue)
    ]


def top_campaigns(scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """Campaigns started in the period, by attributed revenue per recipient. With more
    than ``limit`` of them, ranked on the attributed revenue alone (one GROUP BY) and the
    full figures (influenced too) read for the top ones only."""
    stmt = select(Campaign).where(
        Campaign.started_at >= scope.since, Campaign.started_at < scope.until
    )
    campaigns = db.session.scalars(stmt).all()
    if len(campaigns) > limit:
        attributed = attributed_revenue([c.id for c in campaigns])
        figures = {}
    else:
        figures = campaign_revenue([c.id for c in campaigns])
        attributed = {cid: Decimal(f["attributedRevenue"]) for cid, f in figures.items()}

    def rank(c: Campaign) -> tuple[Decimal, Decimal]:
        revenue = attributed[c.id]
        per = revenue / c.recipients_total if c.recipients_total else Decimal(0)
        return Decimal(_money(per)), revenue

    # a stable sort on the same key as before: equal campaigns keep the order read
    top = sorted(campaigns, key=rank, reverse=True)[:limit]
    figures = figures or campaign_revenue([c.id for c in top])
    return [
        {
            "id": c.public_id,
            "name": c.name,
            "channel": c.channel,
            "recipients": c.recipients_total,
            **figures[c.id],
            "revenuePerRecipient": _money(rank(c)[0]),
        }
        for c in top
    ]


def list_growth(scope: Scope) -> dict[str, int]:
    """Customers added in the period (in scope), and archived ones among them."""
    stmt = select(func.count()).where(
        Customer.created_at >= scope.since, Customer.created_at < scope.until
    )
    if scope.territory_id is not None:
        stmt = stmt.where(Customer.territory_id == scope.territory_id)
    return {"newCustomers": int(db.session.scalar(stmt) or 0)}


def dashboard(scope: Scope) -> dict[str, Any]:
    channels = {name: provider(scope) for name, provider in sorted(providers().items())}
    email = channels.get("email", {})
    delivered = email.get("delivered") or email.get("sent") or 0
    complaints = email.get("complaints", 0)
    bounces = email.get("bounces", 0)
    complaint_rate = complaints / delivered if delivered else 0.0
    bounce_rate = bounces / (email.get("sent") or 1) if email.get("sent") else 0.0
    revenue = revenue_by_week(scope)
    return {
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "territoryId": scope.territory_id,
        "attributedRevenue": _money(sum(Decimal(w["revenue"]) for w in revenue)),
        "attributedOrders": sum(w["orders"] for w in revenue),
        "revenueByWeek": revenue,
        "topCampaigns": top_campaigns(scope),
        "growth": list_growth(scope),
        "channels": channels,
        "compliance": {
            "complaintRate": round(complaint_rate, 5),
            "complaintTarget": COMPLAINT_TARGET,
            "complaintLimit": COMPLAINT_LIMIT,
            "complaintStatus": (
                "over the limit"
                if complaint_rate >= COMPLAINT_LIMIT
                else "over the target"
                if complaint_rate >= COMPLAINT_TARGET
                else "ok"
            ),
            "bounceRate": round(bounce_rate, 5),
            "bounceLimit": BOUNCE_LIMIT,
            "bounceStatus": "too high" if bounce_rate > BOUNCE_LIMIT else "ok",
            "oneClickUnsubscribe": True,  # every campaign email carries List-Unsubscribe-Post
        },
    }
