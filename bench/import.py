"""Bulk import through the API against PostgreSQL COPY of the same rows (issue 23, item 10).

    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/import.py \
        [--customers 200000] [--orders 2000000] [--batch 10000] [--load-until HH:MM]

The database is rebuilt from the migrations. For customers, then orders (one to three
lines each, 1.53 on average), it times in the same run:

- the **floor**: the same rows written with psycopg's COPY, no validation, no lookups,
  into twin tables (``floor_customer``...: the same columns, indexes and foreign keys);
- the **first load**: every row POSTed to ``/api/sales/import/<entity>`` as JSON batches
  of ``--batch`` rows through the app (auth, parsing, validation, reference lookups,
  upserts, totals). Each batch goes to the floor then to the API, so both sides see the
  same machine (this VM's other users come and go within minutes);
- the **re-import**: the same batches again (every row unchanged, nothing written), once
  the job thread has run what the load queued (attribution, engagement).

It prints rows/s, the load/floor ratio (target >= 0.25) and re-import speed-up (target
>= 3), peak RSS after the first 10% of the rows and after all of them (flat memory),
then times ``ordered_product`` smart-list previews on the result, with and without a day
window (target < 2 s each), on PostgreSQL and on a SQLite copy. ``--load-until`` stops
starting first-load batches at that time (UTC): what was loaded is then measured. Merges
the figures into bench/results.json under "import".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.auth.services import create_user, issue_token  # noqa: E402
from app.crm.models import Sku  # noqa: E402
from app.extensions import db  # noqa: E402
from app.ids import new_public_id  # noqa: E402

RESULTS = Path(__file__).with_name("results.json")
TERRITORIES = ["Northwest", "Southwest", "Northeast", "Southeast", "Midwest", "Mountain"]
SKUS = 400
TODAY = date(2026, 12, 1)


def customer_row(n: int) -> dict[str, Any]:
    return {
        "externalId": f"C-{n}",
        "name": f"Account {n}, Ltd",
        "email": f"buyer{n}@account{n % 9973}.example.com",
        "phone": f"+1212555{n % 10_000:04d}" if n % 3 == 0 else None,
        "territory": f"T-{n % len(TERRITORIES)}",
        "accountType": ("ACTIVE", "PROSPECT", "INACTIVE")[n % 3],
        "accountPriority": ("HIGH", "MEDIUM", "LOW")[n % 3],
        "customFields": {"tier": ("gold", "silver", "bronze")[n % 3], "seats": n % 120},
    }


def order_row(n: int, customers: int, rng: random.Random) -> dict[str, Any]:
    lines = []
    for sku in rng.sample(range(SKUS), 1 + (n % 3 == 0) + (n % 5 == 0)):
        lines.append({"sku": f"SKU-{sku}", "quantity": 1 + n % 12})
    return {
        "externalId": f"O-{n}",
        "customer": f"C-{rng.randrange(customers)}",
        "orderDate": (TODAY - timedelta(days=n % 1500)).isoformat(),
        "status": "cancelled" if n % 50 == 0 else "delivered",
        "lines": lines,
    }


def batches(kind: str, total: int, size: int, customers: int) -> Iterator[list[dict]]:
    rng = random.Random(7)  # the same orders every pass
    for start in range(0, total, size):
        stop = min(start + size, total)
        if kind == "customers":
            yield [customer_row(n) for n in range(start, stop)]
        else:
            yield [order_row(n, customers, rng) for n in range(start, stop)]


def progress(what: str, done: int, total: int, spent: float) -> None:
    """A line every tenth of a stage, so a run stopped early still tells its rate."""
    print(
        f"  {what}: {done:,}/{total:,} rows in {spent:.1f} s ({done / spent:,.0f}/s), "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the floor: COPY into twin tables, batch for batch beside the API ----------------

#: the tables each kind's floor writes, in order; their twins are named ``floor_<table>``
FLOORED = {"customers": ("customer",), "orders": ("order", "order_line")}


def make_floor_twins() -> None:
    """Empty twins of the tables the floor writes: the same columns, defaults, indexes,
    unique constraints and foreign keys (order_line's to the twin of order), so a COPY
    there pays what the import's own COPY pays, on tables growing at the same pace."""
    twins = {table for tables in FLOORED.values() for table in tables}
    with db.engine.begin() as connection:
        for table in ("order_line", "order", "customer"):
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "floor_{table}"')
        for table in ("customer", "order", "order_line"):
            connection.exec_driver_sql(
                f'CREATE TABLE "floor_{table}" (LIKE "{table}" INCLUDING ALL)'
            )
            keys = connection.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %(table)s::regclass AND contype = 'f'",
                {"table": f'"{table}"'},
            ).scalars()
            for definition in keys:
                for twin in twins:
                    definition = definition.replace(
                        f'REFERENCES "{twin}"(', f'REFERENCES "floor_{twin}"('
                    ).replace(f"REFERENCES {twin}(", f'REFERENCES "floor_{twin}"(')
                connection.exec_driver_sql(f'ALTER TABLE "floor_{table}" ADD {definition}')


def drop_floor_twins() -> None:
    db.session.commit()  # the session may be reading a twin (references())
    with db.engine.begin() as connection:
        for table in ("order_line", "order", "customer"):
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "floor_{table}"')


class Floor:
    """The same rows written with psycopg's COPY, no validation, no lookups: what the
    database must do for them at the least."""

    def __init__(self, refs: dict[str, Any]) -> None:
        self.refs = refs
        self.raw = db.engine.raw_connection()
        self.cursor = self.raw.cursor()
        self.next_order = 10_000_000

    def close(self) -> None:
        self.raw.close()

    def write(self, kind: str, batch: list[dict[str, Any]]) -> float:
        """Seconds to COPY one batch and commit it (the rows are in hand, as the API's
        body is)."""
        started = time.perf_counter()
        now = datetime.now(UTC)
        refs, cursor = self.refs, self.cursor
        if kind == "customers":
            with cursor.copy(
                "COPY floor_customer (public_id, external_id, name, email, phone,"
                " account_type, account_priority, territory_id, custom_fields,"
                " lifetime_revenue, archived, order_count, created_at, updated_at) FROM STDIN"
            ) as copy:
                for row in batch:
                    copy.write_row(
                        (
                            new_public_id("cus"), row["externalId"], row["name"],
                            row["email"], row["phone"], row["accountType"],
                            row["accountPriority"], refs["territories"][row["territory"]],
                            json.dumps(row["customFields"]), 0, False, 0, now, now,
                        )
                    )  # fmt: skip
        else:
            orders, lines = [], []
            for row in batch:
                self.next_order += 1
                total_value = 0
                for line in row["lines"]:
                    sku_id, price = refs["skus"][line["sku"]]
                    lines.append((self.next_order, sku_id, line["quantity"], price))
                    total_value += line["quantity"] * price
                orders.append(
                    (
                        self.next_order, new_public_id("ord"), row["externalId"],
                        refs["floor_customers"][row["customer"]], row["orderDate"],
                        row["status"], total_value, now, now,
                    )
                )  # fmt: skip
            with cursor.copy(
                "COPY floor_order (id, public_id, external_id, customer_id, order_date, status,"
                " total, created_at, updated_at) FROM STDIN"
            ) as copy:
                for values in orders:
                    copy.write_row(values)
            with cursor.copy(
                "COPY floor_order_line (order_id, sku_id, quantity, unit_price) FROM STDIN"
            ) as copy:
                for values in lines:
                    copy.write_row(values)
        self.raw.commit()
        return time.perf_counter() - started


# --- the API --------------------------------------------------------------------------


def post(client: Any, headers: dict, kind: str, body: str) -> tuple[float, dict[str, Any]]:
    """Seconds for one POST (the server's work, with the test client's and the report's
    parsing) and its report."""
    started = time.perf_counter()
    response = client.post(
        f"/api/sales/import/{kind}",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    if response.status_code != 200:
        raise SystemExit(f"{kind}: {response.status_code} {response.get_data(as_text=True)}")
    report = response.get_json()
    return time.perf_counter() - started, report


def first_load(
    client: Any,
    headers: dict,
    kind: str,
    total: int,
    size: int,
    customers: int,
    floor: Floor,
    until: datetime | None = None,
) -> tuple[float, float, dict[str, int], float]:
    """Each batch COPied by the floor, then POSTed to the API, one after the other: both
    sides see the same machine (on this shared 2-core VM, other sessions' load comes and
    goes within minutes). Making the rows and their JSON body is timed on neither side.
    Seconds of the floor, seconds of the API, the summed counts, peak RSS after 10%.
    Past ``until`` no new batch starts (a run bounded in time: what was loaded is
    measured)."""
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    early_rss = 0.0
    floor_s = load_s = 0.0
    sent = 0
    every = max(size, total // 10 // size * size)
    for batch in batches(kind, total, size, customers):
        if until is not None and datetime.now(UTC) >= until:
            print(f"  {kind}: stopped at {until:%H:%M} UTC after {sent:,} rows", flush=True)
            break
        body = json.dumps(batch)
        floor_s += floor.write(kind, batch)
        spent, report = post(client, headers, kind, body)
        load_s += spent
        for key in counts:
            counts[key] += report[key]
        sent += len(batch)
        if not early_rss and sent >= total // 10:
            early_rss = rss_mib()
        if sent % every == 0 or sent == total:
            progress(f"{kind} first load (floor {sent / floor_s:,.0f}/s)", sent, total, load_s)
    return floor_s, load_s, counts, early_rss


def drain_jobs(limit_s: float = 900) -> float:
    """Wait until the app's job thread has run what the first load queued (attribution
    and engagement rescoring of the changed customers: an RQ worker's work in
    production, here a thread sharing the process), so the replay is timed on its own;
    the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        pending = db.session.scalar(
            text("SELECT count(*) FROM scheduled_job WHERE status IN ('scheduled', 'started')")
        )
        db.session.commit()
        if not pending:
            break
        time.sleep(1)
    return time.perf_counter() - started


def replay(
    client: Any, headers: dict, kind: str, total: int, size: int, customers: int
) -> tuple[float, dict[str, int]]:
    """The same batches again: seconds and summed counts."""
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    spent = 0.0
    sent = 0
    every = max(size, total // 10 // size * size)
    for batch in batches(kind, total, size, customers):
        seconds, report = post(client, headers, kind, json.dumps(batch))
        spent += seconds
        for key in counts:
            counts[key] += report[key]
        sent += len(batch)
        if sent % every == 0 or sent == total:
            progress(f"{kind} re-import", sent, total, spent)
    return spent, counts


def setup_reference_data(client: Any, headers: dict) -> None:
    territories = [{"externalId": f"T-{i}", "name": name} for i, name in enumerate(TERRITORIES)]
    rng = random.Random(3)
    skus = [
        {
            "externalId": f"SKU-{i}",
            "code": f"W{i:04d}",
            "name": f"Wine {i}",
            "unitPrice": f"{rng.randrange(900, 9000) / 100:.2f}",
        }
        for i in range(SKUS)
    ]
    for kind, rows in (("territories", territories), ("skus", skus)):
        response = client.post(f"/api/sales/import/{kind}", json=rows, headers=headers)
        assert response.status_code == 200 and response.get_json()["rejected"] == 0


def references() -> dict[str, Any]:
    from app.crm.models import Customer, Territory

    return {
        "territories": dict(db.session.execute(select(Territory.external_id, Territory.id)).all()),
        "skus": {
            ext: (pk, price)
            for ext, pk, price in db.session.execute(select(Sku.external_id, Sku.id, Sku.price))
        },
        "customers": dict(db.session.execute(select(Customer.external_id, Customer.id)).all()),
        "floor_customers": dict(
            db.session.execute(text("SELECT external_id, id FROM floor_customer")).all()
        ),
    }


def smart_list_timings(manager: Any) -> dict[str, float]:
    """``ordered_product`` previews naming the SKU by its external id (item 3)."""
    from blueprints.lists import criteria, services

    out = {}
    for label, leaf in (
        ("ordered_product", {"type": "ordered_product", "skuId": "SKU-7"}),
        ("ordered_product_365d", {"type": "ordered_product", "skuId": "SKU-7", "withinDays": 365}),
    ):
        node = criteria.parse(leaf)
        started = time.perf_counter()
        count = services.preview(manager, node)["count"]
        out[label] = round(time.perf_counter() - started, 3)
        out[f"{label}_matched"] = count
    return out


COPIED = ("territory", "user", "sku", "customer", "order", "order_line")


def copy_to_sqlite(path: Path) -> Any:
    """The imported book copied table by table into a fresh SQLite database (built by the
    migrations), for the smart-list timings there; the SQLite app."""
    path.unlink(missing_ok=True)
    lite = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "DECANT_ENV": "development",
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
        }
    )
    tables = {name: db.metadata.tables[name] for name in COPIED}
    source = db.engine
    with lite.app_context():
        upgrade(revision="heads")
        target = db.engine
        with source.connect() as read, target.begin() as write:
            cursor = write.connection.driver_connection.cursor()  # type: ignore[union-attr]
            dialect = target.dialect
            for name, table in tables.items():
                columns = list(table.columns)
                # SQLAlchemy's own conversions for SQLite, applied without its per-row work
                convert = [
                    column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
                    for column in columns
                ]
                quoted = ", ".join(f'"{column.name}"' for column in columns)
                marks = ", ".join("?" * len(columns))
                sql = f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})'
                rows = read.execution_options(yield_per=50_000).execute(select(table))
                for part in rows.partitions():
                    cursor.executemany(
                        sql,
                        [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in part],
                    )
            write.exec_driver_sql("ANALYZE")
    return lite


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--load-until", help="HH:MM UTC: no first-load batch starts later (bounded run)"
    )
    parser.add_argument(
        "--sqlite", default="/tmp/decant-import-bench.sqlite", help="rebuilt for the lists"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("set BENCH_DATABASE_URL to a PostgreSQL database (it is rebuilt)")
        return 2
    app = create_app(
        {
            "DATABASE_URL": url,
            "DECANT_ENV": "development",
            "SECRET_KEY": "bench",
            "REDIS_URL": None,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "IMPORT_MAX_ROWS": args.batch,
            "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        }
    )
    figures: dict[str, Any] = {"rows": {"customers": args.customers, "orders": args.orders}}
    with app.app_context():
        drop_floor_twins()  # they share the tables' sequences
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade(revision="heads")
        admin = create_user("bench@example.com", "Bench", "admin", None)
        headers = {"Authorization": f"Bearer {issue_token(admin)}"}
        client = app.test_client()
        setup_reference_data(client, headers)

        make_floor_twins()
        refs = references()
        floor = Floor(refs)
        for kind, total in (("customers", args.customers), ("orders", args.orders)):
            if not total:
                continue
            until = None
            if args.load_until:
                hour, minute = map(int, args.load_until.split(":"))
                until = datetime.now(UTC).replace(hour=hour, minute=minute, second=0)
            floor_s, load, counts, early = first_load(
                client, headers, kind, total, args.batch, args.customers, floor, until
            )
            if counts["created"] < total:
                total = counts["created"]  # stopped by --load-until
                figures["rows"][kind] = total
                figures["stopped_by_time"] = True
            assert counts["created"] == total, counts
            late = rss_mib()
            drained = drain_jobs()
            again, counts = replay(client, headers, kind, total, args.batch, args.customers)
            assert counts["unchanged"] == total, counts
            rows = total  # an order with its lines counts as one row
            figures[kind] = {
                "rows": total,
                "floor_rows_s": round(rows / floor_s),
                "load_rows_s": round(rows / load),
                "reimport_rows_s": round(rows / again),
                "ratio": round(floor_s / load, 3),
                "reimport_speedup": round(load / again, 2),
                "floor_s": round(floor_s, 1),
                "load_s": round(load, 1),
                "reimport_s": round(again, 1),
                "rss_mib_after_10pct": round(early, 1),
                "rss_mib_after_all": round(late, 1),
                "jobs_drain_s": round(drained, 1),
            }
            f = figures[kind]
            print(
                f"{kind:9} {total:>9,} rows: floor {f['floor_rows_s']:,}/s ({floor_s:.1f} s), "
                f"API {f['load_rows_s']:,}/s ({load:.1f} s) ratio {f['ratio']} "
                f"[target 0.25 {'met' if f['ratio'] >= 0.25 else 'missed'}], re-import "
                f"{f['reimport_rows_s']:,}/s x{f['reimport_speedup']} "
                f"[target 3 {'met' if f['reimport_speedup'] >= 3 else 'missed'}], "
                f"RSS {early:.0f} -> {late:.0f} MiB",
                flush=True,
            )
            save(figures)  # a run stopped later keeps what it measured
            if kind == "customers":
                floor.refs = refs = references()
        floor.close()
        drop_floor_twins()
        if not args.orders:
            save(figures)
            return 0
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        figures["smart_lists"] = smart_list_timings(admin)
        print("smart lists (PostgreSQL):", figures["smart_lists"], flush=True)
        started = time.perf_counter()
        lite = copy_to_sqlite(Path(args.sqlite))
        print(f"copied to SQLite in {time.perf_counter() - started:.0f} s", flush=True)
    with lite.app_context():
        from app.auth.models import User

        bench_admin = db.session.scalar(select(User).where(User.email == "bench@example.com"))
        figures["smart_lists_sqlite"] = smart_list_timings(bench_admin)
        print("smart lists (SQLite):", figures["smart_lists_sqlite"], flush=True)
    save(figures)
    return 0


def save(figures: dict[str, Any]) -> None:
    """Merge the figures into bench/results.json under "import", with when and the load
    average the machine had (its other users' work slows the API path most)."""
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["load_average_1_5_15"] = [round(value, 1) for value in os.getloadavg()]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["import"] = figures
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
