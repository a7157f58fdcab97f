"""Smart lists against a floor: a hand-written SQL query of the same customer ids.

Run on a demo database (``flask demo load --customers 200000 --orders 2000000``)::

    DATABASE_URL=... .venv/bin/python bench/lists.py [--repeat 3] [--key lists]

Every criterion type is timed, ``ordered_product`` with and without its day window, its
negation, and one combined criterion. For each: (a) the floor, a plain SQL query written
by hand for that criterion (set operations, no correlated subquery; it shares no code
with the criteria compiler, so a slow compiled query cannot hide behind an equally slow
floor, which is how the correlated ``ordered_product`` of issue 21 went unnoticed), whose
ids must equal the criterion's; (b) a preview (count and first 50); (c) a refresh into an
empty list; (d) a refresh with nothing to change; (e) the refresh's peak Python memory.
It prints the ratios to the floor and merges them into bench/results.json under ``--key``.
Asserts nothing about time; stops if a criterion and its floor disagree.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text

from app import create_app
from app.auth.models import User
from app.crm.models import OrderLine, Sku, Territory
from app.extensions import db
from app.models_base import utcnow
from blueprints.lists import criteria as cr
from blueprints.lists import services
from blueprints.lists.models import EmailList, EmailListMember

RESULTS = Path(__file__).with_name("results.json")
WINDOW_DAYS = 365
IDLE_DAYS = 90


def _custom_floor(dialect: str) -> str:
    if dialect == "postgresql":
        return (
            "SELECT id FROM customer WHERE json_typeof(custom_fields->'wine_club') = 'boolean'"
            " AND custom_fields->>'wine_club' = 'true'"
            " AND json_typeof(custom_fields->'venue_type') = 'string'"
            " AND custom_fields->>'venue_type' = 'restaurant'"
        )
    return (
        "SELECT id FROM customer WHERE json_type(custom_fields, '$.wine_club') = 'true'"
        " AND json_extract(custom_fields, '$.venue_type') = 'restaurant'"
        " AND json_type(custom_fields, '$.venue_type') = 'text'"
    )


def _cases(dialect: str) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (criterion JSON, floor SQL) on the demo data."""
    territory_id, territory = db.session.execute(
        select(Territory.id, Territory.name).order_by(Territory.id).limit(1)
    ).one()
    sku_id, sku = db.session.execute(
        select(Sku.id, Sku.public_id)
        .join(OrderLine, OrderLine.sku_id == Sku.id)
        .group_by(Sku.id, Sku.public_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    today = utcnow().date()
    since = (today - timedelta(days=WINDOW_DAYS)).isoformat()
    idle = (today - timedelta(days=IDLE_DAYS)).isoformat()
    bought = (
        'SELECT o.customer_id AS id FROM "order" o JOIN order_line l ON l.order_id = o.id'
        f" WHERE l.sku_id = {sku_id}"
    )
    no_recent = (
        "SELECT id FROM customer EXCEPT"
        f" SELECT customer_id FROM \"order\" WHERE order_date >= '{idle}'"
    )
    leaves = {
        "all_in_territory": (
            {"type": "all_in_territory", "territory": territory},
            f"SELECT id FROM customer WHERE territory_id = {territory_id}",
        ),
        "high_value": (
            {"type": "high_value", "minRevenue": 50000},
            "SELECT id FROM customer WHERE lifetime_revenue >= 50000",
        ),
        "ordered_product": (
            {"type": "ordered_product", "skuId": sku},
            f"SELECT DISTINCT id FROM ({bought}) AS b",
        ),
        f"ordered_product_{WINDOW_DAYS}d": (
            {"type": "ordered_product", "skuId": sku, "withinDays": WINDOW_DAYS},
            f"SELECT DISTINCT id FROM ({bought} AND o.order_date >= '{since}') AS b",
        ),
        "not_ordered_product": (
            {"not": {"type": "ordered_product", "skuId": sku}},
            f"SELECT id FROM customer EXCEPT SELECT id FROM ({bought}) AS b",
        ),
        f"no_order_in_days_{IDLE_DAYS}d": (
            {"type": "no_order_in_days", "days": IDLE_DAYS},
            no_recent,
        ),
        "custom": (
            {"type": "custom", "customQuery": {"wine_club": True, "venue_type": "restaurant"}},
            _custom_floor(dialect),
        ),
        "account_type": (
            {"type": "account_type", "accountType": "ACTIVE"},
            "SELECT id FROM customer WHERE account_type = 'ACTIVE'",
        ),
        "account_priority": (
            {"type": "account_priority", "accountPriority": "HIGH"},
            "SELECT id FROM customer WHERE account_priority = 'HIGH'",
        ),
    }
    combined = {
        "all": [
            leaves["account_type"][0],
            {"any": [leaves["high_value"][0], leaves["ordered_product"][0]]},
            {"not": leaves[f"no_order_in_days_{IDLE_DAYS}d"][0]},
        ]
    }
    combined_floor = (
        "SELECT id FROM customer WHERE account_type = 'ACTIVE'"
        " INTERSECT SELECT id FROM (SELECT id FROM customer WHERE lifetime_revenue >= 50000"
        f" UNION SELECT id FROM ({bought}) AS b) AS hv_or_op"
        f" EXCEPT SELECT id FROM ({no_recent}) AS nr"
    )
    return {**leaves, "combined": (combined, combined_floor)}


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _empty(list_id: int) -> None:
    db.session.execute(delete(EmailListMember).where(EmailListMember.list_id == list_id))
    db.session.commit()


def _peak_kib(fn, list_id: int) -> int:
    """Peak Python memory of an empty-list refresh: flat if membership stays in SQL."""
    _empty(list_id)
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] // 1024
    finally:
        tracemalloc.stop()


def _ratio(value: float, floor: float) -> float | None:
    return round(value / floor, 2) if floor else None


def _save(key: str, entry: dict[str, Any]) -> None:
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[key] = entry
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


def run(repeat: int, only: set[str], save: Any = None) -> dict[str, Any]:
    owner = db.session.scalar(select(User).where(User.role == "admin").limit(1))
    if owner is None:
        raise SystemExit("no admin user: load the demo data first (flask demo load)")
    dialect = db.engine.dialect.name
    results: dict[str, Any] = {}
    for name, (definition, floor_sql) in _cases(dialect).items():
        if only and name not in only:
            continue
        node = cr.parse(definition)
        ctx = services.check_criteria(node, owner)
        ids = services.matching_ids(node, ctx, owner)
        expected = set(db.session.execute(text(floor_sql)).scalars())
        floor = _best(lambda q=floor_sql: db.session.execute(text(q)).scalars().all(), repeat)
        got = set(db.session.execute(ids).scalars())
        if got != expected:
            raise SystemExit(f"{name}: the criterion matches {len(got)}, its floor {len(expected)}")
        preview = _best(lambda n=node: services.preview(owner, n), repeat)
        lst = services.create_list(owner, f"bench {name}", None, node)
        timings: list[float] = []
        for _ in range(repeat):
            _empty(lst.id)
            began = time.perf_counter()
            services.refresh(lst.id)
            timings.append(time.perf_counter() - began)
        cold = min(timings)
        if db.session.get(EmailList, lst.id).member_count != len(expected):
            raise SystemExit(f"{name}: the refreshed list does not hold the {len(expected)} ids")
        warm = _best(lambda lst_id=lst.id: services.refresh(lst_id), repeat)
        peak_kib = _peak_kib(lambda lst_id=lst.id: services.refresh(lst_id), lst.id)
        services.delete_list(db.session.get(EmailList, lst.id))
        results[name] = {
            "criteria": definition,
            "matched": len(expected),
            "floor_s": round(floor, 4),
            "preview_s": round(preview, 4),
            "refresh_empty_s": round(cold, 4),
            "refresh_nochange_s": round(warm, 4),
            "ratio_preview": _ratio(preview, floor),
            "ratio_empty": _ratio(cold, floor),
            "ratio_nochange": _ratio(warm, floor),
            "peak_python_kib": peak_kib,
        }
        if save is not None:  # after each criterion: a slow one cut short keeps the others
            save(results)
        print(
            f"{name:22} matched={len(expected):>7} floor={floor:.3f}s "
            f"preview={preview:.3f}s x{preview / floor:.1f} "
            f"refresh(empty)={cold:.3f}s x{cold / floor:.1f} "
            f"refresh(no change)={warm:.3f}s x{warm / floor:.1f} peak={peak_kib} KiB",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--key", default="lists", help="results.json key (default: lists)")
    parser.add_argument("--only", nargs="*", default=[], help="criteria names to run")
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        customers = db.session.scalar(select(func.count()).select_from(services.Customer))
        dialect = db.engine.dialect.name
        print(f"{dialect}: {customers} customers", flush=True)

        def save(lists: dict[str, Any]) -> None:
            _save(args.key, {"database": dialect, "customers": customers, "criteria": lists})

        run(args.repeat, set(args.only), save)


if __name__ == "__main__":
    main()
