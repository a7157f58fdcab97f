"""app.bulk.insert_rows writes what a plain SQLAlchemy insert of the same rows writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text

from app.bulk import insert_rows
from app.crm.models import Activity
from app.extensions import db

COLUMNS = ("public_id", "customer_id", "subject", "body")
WRITTEN = (
    Activity.public_id,
    Activity.customer_id,
    Activity.type,
    Activity.subject,
    Activity.body,
    Activity.direction,
    Activity.user_id,
    Activity.occurred_at,
)


def _written(prefix: str) -> list[tuple]:
    found = db.session.execute(
        select(*WRITTEN).where(Activity.public_id.like(f"{prefix}%")).order_by(Activity.public_id)
    ).all()
    return [(public_id[len(prefix) :], *rest) for public_id, *rest in found]


def test_rows_match_a_plain_insert(app, make_customer, manager):
    first, second = make_customer(), make_customer()
    # a shared time given in another zone is stored as UTC, as the column type does
    at = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        ("a", first.id, "Specials for Ana", "Hi Ana, \u00e9t\u00e9 \u2014 50% off\nline two"),
        ("b", second.id, None, None),
        ("c", first.id, 'O\'Brien "quoted"', ""),
    ]
    shared = {"type": "Email Campaign", "direction": "sent", "user_id": manager.id}

    insert_rows(
        Activity.__table__,
        COLUMNS,
        [(f"act_bulk_{key}", *rest) for key, *rest in rows],
        {**shared, "occurred_at": at},
    )
    db.session.execute(
        insert(Activity.__table__),
        [
            {
                "public_id": f"act_orm_{key}",
                "customer_id": customer_id,
                "subject": subject,
                "body": body,
                "occurred_at": at,
                **shared,
            }
            for key, customer_id, subject, body in rows
        ],
    )
    db.session.commit()

    bulk, plain = _written("act_bulk_"), _written("act_orm_")
    assert len(bulk) == 3
    assert bulk == plain
    assert bulk[0][-1] == at.astimezone(UTC)
    assert bulk[0][-1].utcoffset() == timedelta(0)
    # and byte for byte what the driver was given (SQLite keeps a string)
    stored = dict(db.session.execute(text("SELECT public_id, occurred_at FROM activity")).all())
    assert stored["act_bulk_a"] == stored["act_orm_a"]


def test_columns_the_dialect_converts_must_be_shared(app):
    with pytest.raises(TypeError, match="activity.occurred_at"):
        insert_rows(
            Activity.__table__, ("public_id", "occurred_at"), [("act_x", datetime.now(UTC))]
        )
    assert db.session.scalar(select(Activity.id)) is None


def test_columns_with_python_defaults_must_be_given(app, make_customer):
    customer = make_customer()
    with pytest.raises(ValueError, match=r"no value given for \['direction', 'occurred_at'\]"):
        insert_rows(Activity.__table__, ("public_id", "customer_id"), [("act_x", customer.id)])
    with pytest.raises(ValueError, match="given twice"):
        insert_rows(Activity.__table__, ("subject",), [("x",)], {"subject": "y"})
    assert db.session.scalar(select(Activity.id)) is None


def test_no_rows_writes_nothing(app):
    shared = {"type": "Email", "direction": "sent", "occurred_at": datetime.now(UTC)}
    insert_rows(Activity.__table__, COLUMNS, [], shared)
    assert db.session.scalar(select(Activity.id)) is None
