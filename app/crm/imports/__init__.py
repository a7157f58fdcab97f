"""Bulk upserts of CRM records keyed by the source system's ids (issue 23).

``run(entity, rows, user)`` validates a batch of raw rows (dicts as parsed from JSON,
NDJSON or CSV), matches them to existing records by ``externalId`` (or Decant's ``id``),
and answers per row: created, updated, unchanged or rejected with the field and reason.
Valid rows are written in one transaction; replaying a batch writes nothing.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.crm.imports import catalogue, customers, derived, digests, engine, orders, users
from app.crm.imports.engine import Row
from app.crm.imports.rows import ROW_MODELS
from app.crm.models import Customer, Order, Sku, Territory
from app.current import app_object
from app.errors import Conflict
from app.extensions import db
from app.models_base import utcnow
from app.signals import import_finished

if TYPE_CHECKING:
    from app.auth.actor import Actor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entity:
    name: str
    table: Table
    plan: Callable[[list[Row], Any], None]
    #: writes the planned rows; answers the ids of existing customers whose data changed
    #: (rescored and attributed again: a new customer is written already scored)
    write: Callable[[list[Row], Any], set[int]]
    roles: tuple[str, ...] = ("admin", "manager")
    #: whether the changed customers' order totals must be recomputed
    orders: bool = False


ENTITIES: dict[str, Entity] = {
    "territories": Entity(
        "territories", catalogue.TERRITORY, catalogue.plan_territories, catalogue.write_territories
    ),
    "skus": Entity("skus", catalogue.SKU, catalogue.plan_skus, catalogue.write_skus),
    "customers": Entity("customers", customers.CUSTOMER, customers.plan, customers.write),
    "orders": Entity("orders", orders.ORDER, orders.plan, orders.write, orders=True),
    "users": Entity("users", users.USER, users.plan, users.write, roles=("admin",)),
}

# an edit in Decant of a column the import writes makes the next replay take the long way
digests.forget_on_edit(Territory, catalogue.TERRITORY_COLUMNS)
digests.forget_on_edit(Sku, catalogue.SKU_COLUMNS)
digests.forget_on_edit(Customer, customers.COMPARED)
digests.forget_on_edit(Order, orders.COMPARED)
digests.forget_on_edit(User, users.COMPARED)


def run(
    entity: str,
    raw_rows: Sequence[Any],
    user: Actor,
    *,
    dry_run: bool = False,
    row_digests: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """Upsert one batch; the report. ``row_digests``: each row's digest when the caller
    has it (the API, from the body's text); else made from the rows. A race with another
    writer on the same external ids is retried once from the start (the second pass sees
    the other's rows)."""
    spec = ENTITIES[entity]
    if row_digests is None:
        row_digests = [digests.of(entity, raw) for raw in raw_rows]
    with _collector_paused():
        return _run(spec, raw_rows, row_digests, user, dry_run)


def _run(
    spec: Entity,
    raw_rows: Sequence[Any],
    row_digests: Sequence[str | None],
    user: Actor,
    dry_run: bool,
) -> dict[str, Any]:
    entity = spec.name
    started = utcnow()
    for attempt in (1, 2):
        settled = digests.settle_unchanged(spec.table, raw_rows, row_digests)
        rows = engine.parse(ROW_MODELS[entity], raw_rows, row_digests, settled)
        try:
            spec.plan(rows, user)
            touched: set[int] = set()
            if dry_run:
                db.session.rollback()
            else:
                touched = spec.write(rows, user)
                if spec.orders and touched:
                    derived.recompute_totals(touched)
                db.session.commit()
        except IntegrityError as exc:
            db.session.rollback()
            if attempt == 2:
                raise Conflict("Another import changed the same records; run it again") from exc
            continue
        break
    if not dry_run:
        users.after_commit(rows)
        derived.announce(touched)
        if spec.orders:
            derived.announce_new_orders(touched, started)
    if settled:
        rows = sorted([*rows, *settled.values()], key=lambda row: row.index)
    report = _report(rows, dry_run)
    log.info(
        "import %s by %s: %s",
        entity,
        getattr(user, "email", "?"),
        {k: report[k] for k in ("created", "updated", "unchanged", "rejected")},
    )
    if not dry_run:
        app = app_object()
        import_finished.send(app, entity=entity, report=report, user_id=getattr(user, "id", None))
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic GC off for one batch: its tens of thousands of small objects are freed
    by reference counting, and full collections scanning them all cost a third of a
    replay's time. Cycles made meanwhile are collected once it is back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _report(rows: list[Row], dry_run: bool) -> dict[str, Any]:
    counts = {key: 0 for key in ("created", "updated", "unchanged", "rejected")}
    out = []
    for row in rows:
        item = row.report()
        if dry_run and item["result"] == engine.CREATED:
            item["id"] = None  # nothing was written: the id would not exist
        counts[item["result"]] += 1
        out.append(item)
    return {"dryRun": dry_run, **counts, "rows": out}
