"""What an import changes beyond its own rows: customers' order totals, and the signal
smart lists listen to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from app.crm.imports.engine import in_values, key_chunks
from app.crm.imports.rows import UNCOUNTED_STATUSES
from app.crm.models import Customer, Order
from app.current import app_object
from app.extensions import db
from app.signals import customer_changed, customers_changed, orders_placed


def recompute_totals(customer_ids: Collection[int]) -> None:
    """lifetime_revenue, last_order_date and order_count of these customers from their
    orders (cancelled and returned ones left out), one set-based UPDATE a chunk."""
    for part in key_chunks(customer_ids):
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            _recompute_postgresql(connection, part)
        else:
            _recompute_correlated(connection, part)


def _recompute_correlated(connection: Connection, ids: list[int]) -> None:
    """Three correlated subqueries a customer (SQLite: one writer at a time, small books)."""
    c, o = Customer.__table__, Order.__table__
    counted = (o.c.customer_id == c.c.id) & o.c.status.not_in(UNCOUNTED_STATUSES)
    revenue = select(func.coalesce(func.sum(o.c.total), 0)).where(counted).scalar_subquery()
    last = select(func.max(o.c.order_date)).where(counted).scalar_subquery()
    count = select(func.count()).select_from(o).where(counted).scalar_subquery()
    connection.execute(
        update(c)
        .where(in_values(c.c.id, ids))
        .values(lifetime_revenue=revenue, last_order_date=last, order_count=count)
    )


#: the customers' orders read once (one aggregate), not once per total; a customer whose
#: totals come out the same is not rewritten (each rewrite of a customer row writes an
#: entry in each of its many indexes: the totals are indexed, so it is never a HOT update)
_RECOMPUTE = """
UPDATE customer AS c
SET lifetime_revenue = t.revenue, last_order_date = t.last_date, order_count = t.orders
FROM (
    SELECT k.id, coalesce(a.revenue, 0) AS revenue, a.last_date, coalesce(a.orders, 0) AS orders
    FROM unnest(%(ids)s::integer[]) AS k (id)
    LEFT JOIN (
        SELECT customer_id, sum(total) AS revenue, max(order_date) AS last_date,
               count(*) AS orders
        FROM "order"
        WHERE customer_id = ANY(%(ids)s::integer[]) AND status <> ALL(%(uncounted)s::text[])
        GROUP BY customer_id
    ) AS a ON a.customer_id = k.id
) AS t
WHERE c.id = t.id
  AND (c.lifetime_revenue, c.last_order_date, c.order_count)
      IS DISTINCT FROM (t.revenue, t.last_date, t.orders)
"""


def _recompute_postgresql(connection: Connection, ids: list[int]) -> None:
    """The rows locked in id order first, as the engagement rescore locks them: an UPDATE
    alone locks them in the order it finds them (the heap's), and two writers each holding
    a row the other wants is a deadlock (a 503 mid-sync). Then one aggregate of their
    orders and one UPDATE of the customers whose totals changed."""
    c = Customer.__table__
    connection.execute(
        select(c.c.id)
        .where(in_values(c.c.id, ids))
        .order_by(c.c.id)
        .with_for_update(key_share=True)
    ).all()
    connection.exec_driver_sql(
        _RECOMPUTE, {"ids": list(ids), "uncounted": list(UNCOUNTED_STATUSES)}
    )


def announce(customer_ids: Collection[int]) -> None:
    """After the commit: one batch signal, and the per-customer one for its receivers."""
    if not customer_ids:
        return
    app = app_object()
    ids = sorted(customer_ids)
    customers_changed.send(app, customer_ids=ids)
    if customer_changed.receivers:
        for customer_id in ids:
            customer_changed.send(app, customer_id=customer_id)


def announce_new_orders(customer_ids: Collection[int], since: datetime) -> None:
    """After the commit: the customers of these who got a new order (created since the
    import began; an updated order is not a new one), for flows (app/flows)."""
    if not customer_ids or not orders_placed.receivers:
        return
    placed: set[int] = set()
    for part in key_chunks(customer_ids):
        placed.update(
            db.session.scalars(
                select(Order.customer_id).where(
                    in_values(Order.customer_id, part), Order.created_at >= since
                )
            )
        )
    if placed:
        orders_placed.send(app_object(), customer_ids=sorted(placed))
