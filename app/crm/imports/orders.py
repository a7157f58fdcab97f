"""Orders with their lines: all-or-nothing per order, totals derived from the lines.

An order naming an unknown customer, rep or SKU is rejected whole. An update replaces the
order's lines when they differ; cancelling is an update of ``status``.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import delete

from app.auth.actor import Actor
from app.auth.models import User
from app.crm.imports import engine
from app.crm.imports.engine import Row
from app.crm.models import Customer, Order, OrderLine, Sku
from app.extensions import db
from app.models_base import utcnow

ORDER = Order.__table__
LINE = OrderLine.__table__
UTM = ("utm_source", "utm_medium", "utm_campaign")
COMPARED = ["customer_id", "order_date", "status", "rep_id", "total", "external_id", *UTM]
CENTS = Decimal("0.01")
MAX_TOTAL = Decimal("999999999999.99")  # what an order's Numeric(14, 2) total holds


def plan(rows: list[Row], user: Actor) -> None:
    engine.match_existing(ORDER, rows, COMPARED, "order")
    engine.require(
        rows, {"customer": "customer", "order_date": "orderDate", "lines": "lines"}, "order"
    )
    engine.fill_targets(
        rows,
        {"order_date": "order_date", "status": "status", **{name: name for name in UTM}},
        {"status": "delivered"},
        required=("order_date", "status"),
    )
    _references(rows)
    _current_lines(rows)
    _lines(rows)
    engine.classify(rows, [*COMPARED, "lines"], Order.id_prefix)


def _references(rows: list[Row]) -> None:
    live = [row for row in rows if row.ok]
    customers = engine.lookup(
        Customer.__table__, ("external_id", "public_id"), {row.get("customer") for row in live}
    )
    reps = engine.lookup(
        User.__table__, ("external_id", "public_id", "email"), {row.get("rep") for row in live}
    )
    for row in live:
        current = row.current or {}
        row.target["customer_id"] = current.get("customer_id")
        row.target["rep_id"] = current.get("rep_id")
        if "customer" in row.given:
            ref = row.get("customer")
            row.target["customer_id"] = customers.get(ref)
            if row.target["customer_id"] is None:
                row.reject("customer", f"unknown customer {ref!r}")
        if "rep" in row.given:
            ref = row.get("rep")
            row.target["rep_id"] = reps.get(ref) if ref else None
            if ref and ref not in reps:
                row.reject("rep", f"unknown user {ref!r}")


def _current_lines(rows: list[Row]) -> None:
    """The matched orders' lines, as comparable tuples, in one query a chunk."""
    existing = [row for row in rows if row.ok and row.current is not None]
    by_order: dict[int, list[tuple[int, int, Decimal]]] = defaultdict(list)
    ids = [row.current["id"] for row in existing]  # type: ignore[index]
    columns = (LINE.c.order_id, LINE.c.sku_id, LINE.c.quantity, LINE.c.unit_price)
    for order_id, sku_id, quantity, price in engine.fetch_in(columns, LINE.c.order_id, ids):
        by_order[order_id].append((sku_id, quantity, Decimal(price).quantize(CENTS)))
    for row in existing:
        row.current["lines"] = sorted(by_order.get(row.current["id"], []))  # type: ignore[index]


def _lines(rows: list[Row]) -> None:
    """Resolve every line's SKU (external id, Decant id or code) and price the order."""
    live = [row for row in rows if row.ok]
    refs = {line.sku for row in live for line in (row.get("lines") or [])}
    skus = engine.lookup(Sku.__table__, ("external_id", "public_id", "code"), refs)
    prices = _prices(set(skus.values()))
    for row in live:
        if "lines" not in row.given:
            row.target["lines"] = row.current["lines"]  # type: ignore[index]
            row.target["total"] = row.current["total"]  # type: ignore[index]
            continue
        lines = []
        for at, line in enumerate(row.get("lines")):
            sku_id = skus.get(line.sku)
            if sku_id is None:
                row.reject(f"lines[{at}].sku", f"unknown SKU {line.sku!r}")
                continue
            price = line.unit_price if line.unit_price is not None else prices[sku_id]
            lines.append((sku_id, line.quantity, Decimal(price).quantize(CENTS)))
        row.target["lines"] = sorted(lines)
        row.target["total"] = sum((q * p for _, q, p in lines), Decimal("0")).quantize(CENTS)
        if row.target["total"] > MAX_TOTAL:
            row.reject("lines", f"the order's total is over {MAX_TOTAL:,}")
    for row in live:
        if row.ok and row.current is not None:
            row.current["total"] = Decimal(row.current["total"]).quantize(CENTS)


def _prices(ids: set[int]) -> dict[int, Decimal]:
    return {pk: price for pk, price in engine.fetch_in((Sku.id, Sku.price), Sku.id, ids)}


def write(rows: list[Row], user: Actor) -> set[int]:
    """Insert new orders, update changed ones, replace the lines that changed; the ids of
    every customer whose orders changed (old and new owner of a moved order)."""
    now = utcnow()
    created = engine.write_inserts(ORDER, rows, COMPARED, created_at=now, updated_at=now)
    engine.write_updates(ORDER, rows, COMPARED, updated_at=now)
    replaced = [
        row
        for row in rows
        if row.ok and row.result == engine.UPDATED and row.target["lines"] != row.current["lines"]  # type: ignore[index]
    ]
    connection = db.session.connection()
    for part in engine.key_chunks(row.current["id"] for row in replaced):  # type: ignore[index]
        connection.execute(delete(LINE).where(engine.in_values(LINE.c.order_id, part)))
    new_lines = [
        (created[row.index], s, q, p)
        for row in rows
        if row.index in created
        for s, q, p in row.target["lines"]
    ] + [
        (row.current["id"], s, q, p)  # type: ignore[index]
        for row in replaced
        for s, q, p in row.target["lines"]
    ]
    engine.insert_values(LINE, ("order_id", "sku_id", "quantity", "unit_price"), new_lines)
    touched: set[int] = set()
    for row in rows:
        if row.ok and row.result in (engine.CREATED, engine.UPDATED):
            touched.add(row.target["customer_id"])
            if row.current is not None:
                touched.add(row.current["customer_id"])
    return touched
