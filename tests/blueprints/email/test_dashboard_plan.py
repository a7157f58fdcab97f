"""The dashboard's email figures: equal to the rows behind them at the period's edges and
behind a security gateway, and on SQLite read from indexes alone (migration 0049: the
365-day dashboard sorted and visited a year of messages, 9 s at a million)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from app.dashboard.metrics import Scope
from app.dashboard.service import dashboard
from app.extensions import db
from app.messaging.machine_signals import Verdict
from blueprints.email import tracking
from blueprints.email.dashboard import figures
from blueprints.email.models import EmailMessage

START, END = date(2026, 11, 2), date(2026, 11, 16)  # two whole weeks, Monday to Monday
SINCE = datetime(2026, 11, 2, tzinfo=UTC)
UNTIL = datetime(2026, 11, 16, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def _message(address: str, sent: datetime | None, customer_id: int, **fields: Any) -> EmailMessage:
    message = EmailMessage(
        to_address=address, customer_id=customer_id, status="sent" if sent else "queued",
        sent_at=sent, delivered_at=sent, open_count=0, click_count=0, **fields,
    )  # fmt: skip
    db.session.add(message)
    return message


@pytest.fixture
def book(app, make_customer):
    """Messages on both sides of each edge of [SINCE, UNTIL), of each kind of domain,
    for customers in two territories; engagement recorded as the tracking path does."""
    north = make_customer("North", email="a@north.example")
    south = make_customer("South", email="b@south.example")
    rows = {
        "at_since": _message("ann@gmail.com", SINCE, north.id),
        "before_since": _message("ann@gmail.com", SINCE - TICK, north.id),
        "last_tick": _message("cat@shop.example", UNTIL - TICK, south.id),
        "at_until": _message("cat@shop.example", UNTIL, south.id),
        "queued": _message("dan@shop.example", None, north.id),
        "scanned_consumer": _message("eve@gmail.com", SINCE + timedelta(days=3), north.id),
        "scanned_business": _message("fay@bank.example", SINCE + timedelta(days=9), south.id),
        "mpp": _message("gus@shop.example", SINCE + timedelta(days=9, hours=23), north.id),
        "human": _message("hal@yahoo.com", SINCE + timedelta(days=10), south.id),
        "bounced": _message(
            "ivy@cellar.example", SINCE + timedelta(days=1), north.id, bounced_at=SINCE
        ),
        "complained": _message(
            "jo@gmail.com", SINCE + timedelta(days=12), south.id, complained_at=UNTIL - TICK
        ),
    }
    rows["bounced"].delivered_at = None
    db.session.commit()
    scanner = Verdict(False, "too_soon")
    for name in ("scanned_consumer", "scanned_business"):
        tracking.record_engagement(rows[name], "click", verdict=scanner)
        tracking.record_engagement(rows[name], "open", verdict=Verdict(False, "scanner_network"))
    tracking.record_engagement(rows["mpp"], "open", verdict=Verdict(False, "apple_mpp"))
    for name in ("human", "at_since", "last_tick"):
        tracking.record_engagement(rows[name], "open")
    tracking.record_engagement(rows["human"], "click")
    for name in ("at_until", "before_since"):  # outside the period: never counted
        tracking.record_engagement(rows[name], "click")
    return rows, north, south


def _expected(rows: dict[str, EmailMessage], territory_id: int | None, customers: dict[int, int]):
    """The figures counted from the rows in Python, as the dashboard defines them."""
    inside = [
        m
        for m in rows.values()
        if m.sent_at is not None
        and SINCE <= m.sent_at < UNTIL
        and (territory_id is None or customers[m.customer_id] == territory_id)
    ]
    gateway = {rows["scanned_consumer"].id, rows["scanned_business"].id}

    def kind(m: EmailMessage) -> str:
        return "gateway" if m.id in gateway else "consumer" if m.consumer_mailbox else "business"

    by_kind = {k: sum(1 for m in inside if kind(m) == k) for k in ("consumer", "business")}
    by_kind["gateway"] = sum(1 for m in inside if kind(m) == "gateway")
    return {
        "sent": len(inside),
        "delivered": sum(m.delivered_at is not None for m in inside),
        "humanOpens": sum(m.first_human_open_at is not None for m in inside),
        "humanClicks": sum(m.first_human_click_at is not None for m in inside),
        "machineOpens": sum(m.open_count > 0 and m.human_open_count == 0 for m in inside),
        "machineClicks": sum(m.click_count - m.human_click_count for m in inside),
        "bounces": sum(m.bounced_at is not None for m in inside),
        "complaints": sum(m.complained_at is not None for m in inside),
        "byDomainType": by_kind,
        "humanOpensByKind": {
            k: sum(m.first_human_open_at is not None for m in inside if kind(m) == k)
            for k in ("consumer", "business", "gateway")
        },
    }


def _actual(found: dict[str, Any]) -> dict[str, Any]:
    out = {key: found[key] for key in ("sent", "delivered", "humanOpens", "humanClicks")}
    for key in ("machineOpens", "machineClicks", "bounces", "complaints"):
        out[key] = found[key]
    kinds = found["byDomainType"]
    out["byDomainType"] = {k: f["sent"] for k, f in kinds.items()}
    out["humanOpensByKind"] = {k: round(f["humanOpenRate"] * f["sent"]) for k, f in kinds.items()}
    return out


@pytest.mark.parametrize("territory", [None, "North", "South"])
def test_figures_equal_their_rows(book, territory):
    rows, north, south = book
    for message in rows.values():
        db.session.refresh(message)
    customers = {north.id: north.territory_id, south.id: south.territory_id}
    territories = {"North": north.territory_id, "South": south.territory_id}
    territory_id = territories.get(territory) if territory else None
    found = figures(Scope(START, END, territory_id))
    expected = _expected(rows, territory_id, customers)
    assert _actual(found) == expected
    assert expected["sent"] and expected["byDomainType"]["gateway"]  # the book covers them
    assert sum(week["sent"] for week in found["byWeek"]) == expected["sent"]
    assert [week["week"] for week in found["byWeek"]] == ["2026-11-02", "2026-11-09"]


def _plans(work: Any) -> list[tuple[str, str]]:
    """Each statement ``work`` runs on SQLite, with its query plan."""
    statements: list[tuple[str, Any]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    with db.engine.connect() as conn:
        explain = conn.exec_driver_sql
        return [
            (sql, " | ".join(row[3] for row in explain("EXPLAIN QUERY PLAN " + sql, p)))
            for sql, p in statements
        ]


def test_sqlite_reads_the_dashboards_indexes_not_its_rows(book):
    """The email figures read the (day, ...) index in its order (no table, no sort), the
    gateway split only the messages that drew a scanner, and revenue by week the order
    touches' index of attributed rows by week alone."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans (PostgreSQL hashes the GROUP BY)")
    plans = _plans(lambda: dashboard(Scope(START, END)))
    email = [plan for sql, plan in plans if "GROUP BY date(email_message.sent_at)" in sql]
    assert len(email) == 1, plans
    assert "USING COVERING INDEX ix_email_message_sent_day_figures" in email[0]
    assert "TEMP B-TREE" not in email[0]
    # the gateway split reads the few messages that drew a scanner, each by its id
    gateway = [plan for sql, plan in plans if "machine_reason IN" in sql]
    assert len(gateway) == 1, plans
    assert "SEARCH email_message USING INTEGER PRIMARY KEY" in gateway[0]
    revenue = [plan for sql, plan in plans if "FROM order_touch" in sql and "order_date" in sql]
    assert revenue and "USING COVERING INDEX ix_order_touch_attributed_week" in revenue[0]


@pytest.mark.parametrize("dimension", ["campaign", "territory", "sku"])
def test_sqlite_revenue_reports_seek_their_period(app, dimension):
    """A revenue report seeks its period's weeks in the index of attributed rows (which
    carries each row's order and campaign), not every credited row of the book
    (migration 0052: a 30-day report at 200,000 customers read them all)."""
    from app.dashboard.revenue import revenue_by

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans")
    plans = _plans(lambda: revenue_by(dimension, Scope(START, END)))
    touches = [plan for sql, plan in plans if "FROM order_touch" in sql]
    assert len(touches) == 2, plans  # the rows, and the count of credited orders
    for plan in touches:
        assert "SEARCH order_touch USING COVERING INDEX ix_order_touch_attributed_week" in plan
        assert "(order_week>? AND order_week<?)" in plan
