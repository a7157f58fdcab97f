"""Revenue attributed, broken down by campaign, template, rep, territory or SKU bought.

Every figure is one GROUP BY over the orders credited (the ``attributed`` order-touch
rows: one per credited order, so no order counts twice) placed in the period, on SQLite
and PostgreSQL alike:

* ``campaign``: the campaign credited (email and SMS apart by ``channel``);
* ``template``: the template the credited campaign was made from;
* ``rep``: the rep who keyed the order, else the account's rep;
* ``territory``: the account's territory;
* ``sku``: what the credited orders bought, line by line (quantity times unit price),
  with the bottles sold; an order of three SKUs counts once under each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, distinct, func, select
from sqlalchemy.orm import aliased

from app.attribution.models import OrderTouch, attributed_in
from app.auth.models import User
from app.crm.models import Customer, Order, OrderLine, Sku, Territory
from app.dashboard.metrics import Scope
from app.extensions import db
from app.messaging.models import Campaign, Template

#: a GROUP BY's SELECT: (id, label, detail, orders, revenue[, bottles])
Grouped = Select[*tuple[Any, ...]]
Dimension = Literal["campaign", "template", "rep", "territory", "sku"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
CENTS = Decimal("0.01")
#: the label of the row of credited orders that have no campaign, template, rep...
NONE_LABELS = {
    "campaign": "(a message outside any campaign)",
    "template": "(written without a template)",
    "rep": "(no rep)",
    "territory": "(no territory)",
    "sku": "(no SKU)",
}


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(CENTS))


def _credited(scope: Scope) -> list[ColumnElement[bool]]:
    """The conditions of a credited order in scope, said of its order-touch row (which
    carries the order's date and customer): the period is sought in the index of
    attributed rows, not among every credited order."""
    where = attributed_in(scope.start, scope.end)
    clause = scope.customer_clause(OrderTouch.customer_id)
    if clause is not None:
        where.append(clause)
    return where


#: a join of a breakdown: (what, on, outer)
Join = tuple[Any, ColumnElement[bool], bool]
_rep = aliased(User)
_CAMPAIGN: Join = (Campaign, Campaign.id == OrderTouch.campaign_id, True)
_CUSTOMER: Join = (Customer, Customer.id == Order.customer_id, False)


@dataclass(frozen=True)
class Breakdown:
    """One GROUP BY over the credited orders: the grouped entity's id and the three
    columns shown (id, label, detail), reached by ``joins`` from the credited order."""

    key: Any
    shown: tuple[Any, Any, Any]
    joins: tuple[Join, ...]
    #: what each row sums (default: orders and their totals)
    measures: Callable[[], tuple[Any, ...]] = lambda: (func.count(), func.sum(Order.total))

    def query(self, scope: Scope) -> Grouped:
        stmt = _credited_rows(select(*self.shown, *self.measures()))
        for target, onclause, outer in self.joins:
            stmt = stmt.join(target, onclause, isouter=outer)
        return stmt.where(*_credited(scope)).group_by(self.key, *self.shown)


def _credited_rows(stmt: Grouped) -> Grouped:
    """``stmt`` over the order-touch rows and their orders."""
    return stmt.select_from(OrderTouch).join(Order, Order.id == OrderTouch.order_id)


BREAKDOWNS: dict[str, Breakdown] = {
    "campaign": Breakdown(
        Campaign.id, (Campaign.public_id, Campaign.name, Campaign.channel), (_CAMPAIGN,)
    ),
    "template": Breakdown(
        Template.id,
        (Template.public_id, Template.name, Template.type),
        (_CAMPAIGN, (Template, Template.id == Campaign.template_id, True)),
    ),
    "rep": Breakdown(
        _rep.id,
        (_rep.public_id, _rep.name, _rep.email),
        (_CUSTOMER, (_rep, _rep.id == func.coalesce(Order.rep_id, Customer.rep_id), True)),
    ),
    "territory": Breakdown(
        Territory.id,
        (Territory.public_id, Territory.name, Territory.timezone),
        (_CUSTOMER, (Territory, Territory.id == Customer.territory_id, True)),
    ),
    "sku": Breakdown(
        Sku.id,
        (Sku.public_id, Sku.name, Sku.code),
        (
            (OrderLine, OrderLine.order_id == Order.id, False),
            (Sku, Sku.id == OrderLine.sku_id, False),
        ),
        lambda: (
            func.count(distinct(Order.id)),
            func.sum(OrderLine.quantity * OrderLine.unit_price),
            func.sum(OrderLine.quantity),
        ),
    ),
}
QUERIES: dict[str, Callable[[Scope], Grouped]] = {
    name: breakdown.query for name, breakdown in BREAKDOWNS.items()
}
#: what the third column of each query is, on the wire
DETAIL = {
    "campaign": "channel",
    "template": "channel",
    "rep": "email",
    "territory": "timezone",
    "sku": "code",
}


def revenue_by(dimension: str, scope: Scope) -> dict[str, Any]:
    """Orders and revenue credited in ``scope``, one row per ``dimension`` value (highest
    revenue first), with the totals; ``dimension`` is one of :data:`DIMENSIONS`."""
    rows = []
    for found in db.session.execute(QUERIES[dimension](scope)):
        key, label, detail, orders, revenue = found[:5]
        row: dict[str, Any] = {
            "id": key,
            "label": label if key is not None else NONE_LABELS[dimension],
            DETAIL[dimension]: detail,
            "orders": int(orders),
            "revenue": _money(revenue),
        }
        if dimension == "sku":
            row["bottles"] = int(found[5] or 0)
        rows.append(row)
    rows.sort(key=lambda r: (-Decimal(r["revenue"]), -r["orders"], str(r["label"])))
    return {
        "by": dimension,
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "territoryId": scope.territory_id,
        "orders": _credited_orders(scope),
        "revenue": _money(sum((Decimal(r["revenue"]) for r in rows), Decimal(0))),
        "rows": rows,
    }


def _credited_orders(scope: Scope) -> int:
    """Credited orders in scope (for SKUs, not the sum of the rows: an order of several
    SKUs is a row under each)."""
    stmt = _credited_rows(select(func.count())).where(*_credited(scope))
    return int(db.session.scalar(stmt) or 0)
