"""Credit orders to the messages that led to them: last human touch within a window.

For distributors, orders are keyed in by reps or imported from the ERP, often days
later, and credit belongs to the account (any contact of the customer), so attribution
is recomputed from the data rather than recorded at checkout: whenever a customer's
orders change (an import, the API), that customer's orders are credited again.

The rule: an order placed on day D is credited to the customer's human touches (clicks,
human opens, replies: :mod:`app.attribution.touches`) made before the end of D and no
earlier than the touch kind's window (email click 5 days, email open 1 day, SMS reply
5 days by default; ``ATTRIBUTION_<KIND>_DAYS``). The latest such touch is
``attributed``; every other one ``influenced``. Cancelled and returned orders earn none.
Orders carry a date, not a time, so a touch later on the order's own day still counts.

An order that carries UTM data naming a Decant campaign (``utm_campaign`` is the public id
our tracked links add: :mod:`app.attribution.utm`) is credited to that campaign first
(kind ``utm``): the visit it came from says so better than any touch. Its touches in
their windows are then all ``influenced``.

Work is set-based per chunk of customers: one query for their orders, one per touch
source for their touches, one DELETE and one INSERT of the rows; each order finds its
customer's touches in its window by bisection over them sorted by moment.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from app.attribution.models import ATTRIBUTED, INFLUENCED, UTM, OrderTouch
from app.attribution.touches import Touch, TouchSource, sources
from app.crm.models import Order
from app.extensions import db
from app.messaging.models import Campaign

UNCREDITED_STATUSES = ("cancelled", "returned")
CHUNK = 500


def _order_end(order_date: Any) -> datetime:
    return datetime.combine(order_date, time.min, tzinfo=UTC) + timedelta(days=1)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _chunks(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def attribute_customers(customer_ids: Collection[int]) -> int:
    """Credit again every order of these customers; how many order-touch rows exist now."""
    written = 0
    for part in _chunks(sorted(set(customer_ids)), CHUNK):
        written += _attribute_chunk(part)
        db.session.commit()
    return written


def _attribute_chunk(customer_ids: Sequence[int]) -> int:
    orders = db.session.execute(
        select(
            Order.id, Order.customer_id, Order.order_date, Order.status, Order.utm_campaign
        ).where(Order.customer_id.in_(customer_ids))
    ).all()
    db.session.execute(delete(OrderTouch).where(OrderTouch.customer_id.in_(customer_ids)))
    credited = [o for o in orders if o.status not in UNCREDITED_STATUSES]
    if not credited:
        return 0
    ends = [_order_end(o.order_date) for o in credited]
    touches = _touches_by_customer(customer_ids, min(ends), max(ends))
    named = _campaigns_named({o.utm_campaign for o in credited if o.utm_campaign})
    rows: list[dict[str, Any]] = []
    for order, end in zip(credited, ends, strict=True):
        found = _rows_for(order.id, order.customer_id, end, touches.get(order.customer_id))
        utm_campaign = named.get(order.utm_campaign or "")
        if utm_campaign is not None:
            found = [{**row, "role": INFLUENCED} for row in found]
            found.append(_utm_row(order.id, order.customer_id, end, *utm_campaign))
        rows.extend(found)
    if rows:
        db.session.execute(insert(OrderTouch), rows)
    return len(rows)


def _campaigns_named(public_ids: set[str]) -> dict[str, tuple[int, str]]:
    """The campaigns among ``public_ids`` (an order's ``utm_campaign``): id and channel."""
    if not public_ids:
        return {}
    found = db.session.execute(
        select(Campaign.public_id, Campaign.id, Campaign.channel).where(
            Campaign.public_id.in_(sorted(public_ids))
        )
    )
    return {public_id: (pk, channel) for public_id, pk, channel in found}


def _utm_row(
    order_id: int, customer_id: int, end: datetime, campaign_id: int, channel: str
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_id": customer_id,
        "campaign_id": campaign_id,
        "channel": channel,
        "kind": UTM,
        "message_ref": "",  # the visit, not a message
        "touched_at": end - timedelta(days=1),  # the order's day
        "role": ATTRIBUTED,
    }


#: a touch as the rule reads it: (moment, start of the window it counts in, source, touch)
Timed = tuple[datetime, timedelta, TouchSource, Touch]


class CustomerTouches:
    """One customer's touches sorted by moment, so an order finds those in its window by
    bisection instead of reading every touch of the customer (a customer of many orders
    and touches was quadratic)."""

    def __init__(self, touches: list[Timed]) -> None:
        #: the positions of the touches as read, sorted by moment (stable): rows, and the
        #: tie between equal touches, keep the order the sources gave them
        self.order = sorted(range(len(touches)), key=lambda i: touches[i][0])
        self.moments = [touches[i][0] for i in self.order]
        self.touches = touches
        self.widest = max((window for _, window, _, _ in touches), default=timedelta(0))

    def inside(self, end: datetime) -> list[Timed]:
        """The touches in their window before ``end``, in the order they were read."""
        low = bisect_left(self.moments, end - self.widest)
        high = bisect_left(self.moments, end)
        picked = sorted(self.order[low:high])
        return [self.touches[i] for i in picked if end - self.touches[i][1] <= self.touches[i][0]]


def _touches_by_customer(
    customer_ids: Sequence[int], first_end: datetime, last_end: datetime
) -> dict[int, CustomerTouches]:
    """Each customer's touches with their moment and window, read once per chunk (the
    window is a setting: looked up per source, not per order and touch)."""
    found: dict[int, list[Timed]] = defaultdict(list)
    for source in sources():
        window = source.window()
        since = first_end - window
        for touch in source.touches(customer_ids, since, last_end):
            found[touch.customer_id].append((_aware(touch.touched_at), window, source, touch))
    return {customer_id: CustomerTouches(timed) for customer_id, timed in found.items()}


def _rows_for(
    order_id: int,
    customer_id: int,
    end: datetime,
    touches: CustomerTouches | None,
) -> list[dict[str, Any]]:
    inside = (
        [(at, source, touch) for at, _, source, touch in touches.inside(end)] if touches else []
    )
    if not inside:
        return []
    last = max(range(len(inside)), key=lambda i: (inside[i][0], inside[i][1].rank))
    return [
        {
            "order_id": order_id,
            "customer_id": customer_id,
            "campaign_id": touch.campaign_id,
            "channel": source.channel,
            "kind": source.kind,
            "message_ref": touch.message_ref,
            "touched_at": at,
            "role": ATTRIBUTED if index == last else INFLUENCED,
        }
        for index, (at, source, touch) in enumerate(inside)
    ]


def attribute_customers_job(customer_ids: list[int]) -> int:
    """The background job (ids, not objects)."""
    return attribute_customers(customer_ids)
