"""Smart-list refresh against its floor: the bare SELECT of the matching customer ids.

Run on a demo database (``flask demo load --customers 200000 --orders 2000000``)::

    DATABASE_URL=... .venv/bin/python bench/lists.py [--repeat 3]

For each criterion type and one combined criterion it times (a) the floor, fetching the
ids the criterion matches, (b) a first refresh into an empty list (INSERT ... SELECT) and
(c) a second refresh with nothing to change, prints the ratios to the floor and merges
them into bench/results.json under "lists". Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from app import create_app
from app.auth.models import User
from app.crm.models import OrderLine, Sku, Territory
from app.extensions import db
from blueprints.lists import criteria as cr
from blueprints.lists import services
from blueprints.lists.models import EmailList, EmailListMember

RESULTS = Path(__file__).with_name("results.json")


def _criteria() -> dict[str, dict[str, Any]]:
    territory = db.session.scalar(select(Territory.name).order_by(Territory.id))
    sku = db.session.scalar(
        select(Sku.public_id)
        .join(OrderLine, OrderLine.sku_id == Sku.id)
        .group_by(Sku.public_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    leaves = {
        "all_in_territory": {"type": "all_in_territory", "territory": territory},
        "high_value": {"type": "high_value", "minRevenue": 50000},
        "ordered_product": {"type": "ordered_product", "skuId": sku, "withinDays": 365},
        "no_order_in_days": {"type": "no_order_in_days", "days": 90},
        "custom": {"type": "custom", "customQuery": {"accountPriority": "HIGH"}},
        "account_type": {"type": "account_type", "accountType": "ACTIVE"},
        "account_priority": {"type": "account_priority", "accountPriority": "HIGH"},
    }
    leaves["combined"] = {
        "all": [
            leaves["account_type"],
            {"any": [leaves["high_value"], leaves["ordered_product"]]},
            {"not": leaves["no_order_in_days"]},
        ]
    }
    return leaves


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _peak_kib(fn, list_id: int) -> int:
    """Peak Python memory of an empty-list refresh: flat if membership stays in SQL."""
    db.session.execute(delete(EmailListMember).where(EmailListMember.list_id == list_id))
    db.session.commit()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] // 1024
    finally:
        tracemalloc.stop()


def run(repeat: int) -> dict[str, Any]:
    owner = db.session.scalar(select(User).where(User.role == "admin").limit(1))
    if owner is None:
        raise SystemExit("no admin user: load the demo data first (flask demo load)")
    results: dict[str, Any] = {}
    for name, definition in _criteria().items():
        node = cr.parse(definition)
        ctx = services.check_criteria(node, owner)
        ids = services.matching_ids(node, ctx, owner)
        floor = _best(lambda ids=ids: db.session.execute(ids).scalars().all(), repeat)
        matched = len(db.session.execute(ids).scalars().all())
        lst = services.create_list(owner, f"bench {name}", None, node)

        timings: list[float] = []
        for _ in range(repeat):
            db.session.execute(delete(EmailListMember).where(EmailListMember.list_id == lst.id))
            db.session.commit()
            began = time.perf_counter()
            services.refresh(lst.id)
            timings.append(time.perf_counter() - began)
        cold = min(timings)
        warm = _best(lambda lst_id=lst.id: services.refresh(lst_id), repeat)
        peak_kib = _peak_kib(lambda lst_id=lst.id: services.refresh(lst_id), lst.id)
        services.delete_list(db.session.get(EmailList, lst.id))
        results[name] = {
            "matched": matched,
            "floor_s": round(floor, 4),
            "refresh_empty_s": round(cold, 4),
            "refresh_nochange_s": round(warm, 4),
            "ratio_empty": round(cold / floor, 2) if floor else None,
            "ratio_nochange": round(warm / floor, 2) if floor else None,
            "peak_python_kib": peak_kib,
        }
        print(
            f"{name:18} matched={matched:>8} floor={floor:.3f}s "
            f"refresh(empty)={cold:.3f}s x{cold / floor:.1f} "
            f"refresh(no change)={warm:.3f}s x{warm / floor:.1f} peak={peak_kib} KiB"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        customers = db.session.scalar(select(func.count()).select_from(services.Customer))
        dialect = db.engine.dialect.name
        print(f"{dialect}: {customers} customers")
        lists = run(args.repeat)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["lists"] = {"database": dialect, "customers": customers, "criteria": lists}
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
