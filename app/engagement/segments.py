"""Set-based engagement segments for smart lists, over the channels' message tables.

The lists channel cannot read the email channel's tables, so a channel registers the two
SELECTs the criteria "clicked campaign X" and "opened but did not order" need (the email
channel does, in :mod:`blueprints.email.attribution`); each answers customer ids from
human events only (machine opens and clicks never count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, exists, false, func, select

from app.crm.models import Customer, Order

#: statuses of orders that never happened as far as engagement goes
VOID_ORDER_STATUSES = ("cancelled", "returned")


@dataclass(frozen=True)
class SegmentQueries:
    #: (campaign id) -> SELECT of the customer ids with a human click on that campaign
    clicked_campaign: Callable[[int], Select[Any]]
    #: (since) -> SELECT (customer_id, opened_at) of human opens since then, one row per
    #: message (its first human open)
    human_opens: Callable[[datetime], Select[Any, Any]]


def register(app: Flask, channel: str, queries: SegmentQueries) -> None:
    app.extensions.setdefault("decant_segment_queries", {})[channel] = queries


def _queries(channel: str) -> SegmentQueries | None:
    found: SegmentQueries | None = current_app.extensions.get("decant_segment_queries", {}).get(
        channel
    )
    return found


def clicked_campaign(channel: str, campaign_id: int) -> Any:
    """Predicate over ``customer``: a person clicked a link of the campaign."""
    queries = _queries(channel)
    if queries is None:
        return false()
    return Customer.id.in_(queries.clicked_campaign(campaign_id).scalar_subquery())


def opened_without_order(since: datetime) -> Any:
    """Predicate over ``customer``: a human open since ``since`` (any channel that has
    opens) with no order dated on or after that open's day."""
    parts = []
    for queries in current_app.extensions.get("decant_segment_queries", {}).values():
        opens = queries.human_opens(since).subquery()
        ordered_after = exists(
            select(Order.id).where(
                Order.customer_id == opens.c.customer_id,
                Order.order_date >= func.date(opens.c.opened_at),
                Order.status.not_in(VOID_ORDER_STATUSES),
            )
        )
        parts.append(select(opens.c.customer_id).where(~ordered_after))
    if not parts:
        return false()
    found = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
    return Customer.id.in_(found.scalar_subquery())
