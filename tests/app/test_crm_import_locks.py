"""An order import recomputing totals beside another writer of the same customers (the
engagement rescore its previous batch queued) waits its turn instead of deadlocking: the
1,000,000-order benchmark run stopped on a 503 "database busy" from such a deadlock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select, text, update

from app.crm.imports import derived
from app.crm.models import Customer
from app.extensions import db
from tests.app.test_crm_import import poster

CUSTOMER = Customer.__table__


def test_totals_lock_customers_in_id_order_beside_a_rescore(app, client, token_headers, admin):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite has one writer at a time")
    post = poster(client, token_headers(admin))
    post("customers", [{"externalId": f"C-{n}", "name": f"Shop {n}"} for n in (1, 2)])
    low, high = db.session.scalars(select(Customer.id).order_by(Customer.id)).all()
    with db.engine.begin() as connection:  # the low id's row now lies after the high one's
        connection.execute(update(CUSTOMER).where(CUSTOMER.c.id == low).values(name="Moved"))
        heap = connection.execute(text("SELECT id FROM customer ORDER BY ctid")).scalars()
        assert list(heap) == [high, low]
    db.session.commit()

    failures: list[BaseException] = []
    rescore = db.engine.connect()  # holds the low id, as a rescore of both would first
    rescore.begin()
    rescore.execute(update(CUSTOMER).where(CUSTOMER.c.id == low).values(engagement_score=5))

    def totals() -> None:
        with app.app_context():
            try:
                db.session.execute(text("SET LOCAL enable_indexscan = off"))  # the heap's order
                db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
                derived.recompute_totals({low, high})
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                db.session.rollback()

    worker = threading.Thread(target=totals)
    worker.start()
    try:
        _wait_until_waiting_on_a_lock()
        # the rescore moves on to the high id: free unless the import took it out of turn
        rescore.execute(update(CUSTOMER).where(CUSTOMER.c.id == high).values(engagement_score=7))
        rescore.commit()
    finally:
        rescore.close()
        worker.join(timeout=30)
    assert not failures, failures
    scores = db.session.execute(select(Customer.id, Customer.engagement_score)).all()
    assert dict(scores) == {low: 5, high: 7}


def _wait_until_waiting_on_a_lock() -> None:
    for _ in range(200):
        with db.engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        if waiting:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the totals never waited for the rescore's lock")


def test_updated_records_are_written_in_id_order(client, token_headers, admin):
    """A batch naming records in any order updates them in id order (the rows' locks are
    taken in the order the executemany runs), as the totals and the rescore do."""
    post = poster(client, token_headers(admin))
    names = [f"C-{n}" for n in range(1, 7)]
    post("customers", [{"externalId": name, "name": name} for name in names])
    ids = dict(db.session.execute(select(Customer.external_id, Customer.id)).all())
    written: list[list[int]] = []

    def seen(conn, cursor, statement, params, context, executemany):
        if executemany and statement.lstrip().upper().startswith("UPDATE CUSTOMER"):
            written.append([p["_pk"] if isinstance(p, dict) else p[-1] for p in params])

    shuffled = ["C-4", "C-1", "C-6", "C-3", "C-2", "C-5"]
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        report = post("customers", [{"externalId": name, "name": "Renamed"} for name in shuffled])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert report["updated"] == 6
    assert written, "one executemany UPDATE"
    assert written[0] == sorted(ids[name] for name in shuffled)
