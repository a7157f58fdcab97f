"""Revenue and orders credited to campaigns; why an order is credited where it is."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from app.attribution.models import ATTRIBUTED, UTM, OrderTouch
from app.extensions import db
from app.messaging.models import Campaign


def _money(value: Any) -> str:
    return f"{Decimal(value or 0):.2f}"


def campaign_revenue(campaign_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Per campaign: orders and revenue attributed (last touch) and influenced (any
    touch in the window; an order counts once per campaign however many touches)."""
    empty = {
        "attributedOrders": 0,
        "attributedRevenue": "0.00",
        "influencedOrders": 0,
        "influencedRevenue": "0.00",
    }
    out: dict[int, dict[str, Any]] = {cid: dict(empty) for cid in campaign_ids}
    if not campaign_ids:
        return out
    # one pass over the order touches (they carry the order's total): per (campaign,
    # order) its attributed rows, then per campaign the sums; grouped in the campaign
    # index's order (an order has one customer, so the customer adds no group)
    per_order = (
        select(
            OrderTouch.campaign_id,
            func.sum(case((OrderTouch.role == ATTRIBUTED, 1), else_=0)).label("attributed"),
            func.max(OrderTouch.total).label("total"),
        )
        .where(OrderTouch.campaign_id.in_(campaign_ids))
        .group_by(OrderTouch.campaign_id, OrderTouch.customer_id, OrderTouch.order_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            per_order.c.campaign_id,
            func.sum(per_order.c.attributed),
            func.sum(per_order.c.attributed * per_order.c.total),
            func.count(),
            func.sum(per_order.c.total),
        ).group_by(per_order.c.campaign_id)
    ).all()
    for cid, attributed, attributed_revenue, influenced, influenced_revenue in rows:
        out[cid].update(
            attributedOrders=int(attributed or 0),
            attributedRevenue=_money(attributed_revenue),
            influencedOrders=int(influenced),
            influencedRevenue=_money(influenced_revenue),
        )
    return out


def attributed_revenue(campaign_ids: Collection[int]) -> dict[int, Decimal]:
    """Per campaign, the revenue attributed (last touch) alone: one GROUP BY without the
    influenced orders' de-duplication, enough to rank campaigns."""
    out = dict.fromkeys(campaign_ids, Decimal(0))
    if not campaign_ids:
        return out
    rows = db.session.execute(
        select(OrderTouch.campaign_id, func.sum(OrderTouch.total))
        .where(OrderTouch.campaign_id.in_(campaign_ids), OrderTouch.role == ATTRIBUTED)
        .group_by(OrderTouch.campaign_id)
    )
    for cid, revenue in rows:
        if cid is not None:
            out[cid] = Decimal(_money(revenue))
    return out


def _why(credited: OrderTouch | None) -> str | None:
    if credited is None:
        return None
    if credited.kind == UTM:
        return "the order's UTM parameters (utm_campaign) name the campaign"
    return (
        f"last human touch ({credited.kind.replace('_', ' ')}) of the account "
        "within its window before the order"
    )


def order_attribution(customer_id: int, order_id: int) -> dict[str, Any] | None:
    """What an order is credited to and why, for the order's JSON (None: nothing). Its
    rows are found by the (customer, order) index."""
    rows = db.session.scalars(
        select(OrderTouch)
        .where(OrderTouch.customer_id == customer_id, OrderTouch.order_id == order_id)
        .order_by(OrderTouch.touched_at.desc(), OrderTouch.id)
    ).all()
    if not rows:
        return None
    credited = next((r for r in rows if r.role == ATTRIBUTED), None)
    campaign_ids = {r.campaign_id for r in rows if r.campaign_id}
    campaign_public_ids: dict[int, str] = {
        cid: pid
        for cid, pid in db.session.execute(
            select(Campaign.id, Campaign.public_id).where(Campaign.id.in_(campaign_ids))
        )
    }

    def touch(row: OrderTouch) -> dict[str, Any]:
        return {
            "channel": row.channel,
            "kind": row.kind,
            "messageId": row.message_ref or None,
            "campaignId": campaign_public_ids.get(row.campaign_id) if row.campaign_id else None,
            "touchedAt": row.touched_at.isoformat(),
        }

    return {
        "attributedTo": touch(credited) if credited else None,
        "why": _why(credited),
        "influencedBy": [touch(r) for r in rows if r is not credited],
    }
