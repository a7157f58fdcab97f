"""The sunset report: who is sunset (in the user's territory), since when, how many
emails they received in the sunset window and when a person last engaged."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select

from app.crm.models import Customer
from app.crm.scoping import scope_customers
from app.engagement import score
from app.extensions import db
from app.models_base import utcnow

CSV_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "territory",
    "sunset_since",
    "emails_received",
    "last_engaged_at",
)
CSV_CHUNK = 500


def sunset_customers(user: Any) -> Select[Any]:
    """The sunset customers ``user`` may see, longest sunset first."""
    stmt = (
        select(Customer)
        .where(Customer.engagement_state == score.SUNSET, Customer.archived.is_(False))
        .order_by(Customer.sunset_at, Customer.name, Customer.id)
    )
    return scope_customers(stmt, user)


def count(user: Any) -> int:
    stmt = scope_customers(
        select(func.count()).where(
            Customer.engagement_state == score.SUNSET, Customer.archived.is_(False)
        ),
        user,
    )
    return int(db.session.scalar(stmt) or 0)


def window_start(now: datetime | None = None) -> datetime:
    days = float(current_app.config.get("SUNSET_DAYS") or 180)
    return (now or utcnow()) - timedelta(days=days)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def rows(customers: Sequence[Customer]) -> list[dict[str, Any]]:
    """The report's rows for these customers (emails counted in one query)."""
    received = score._emails_received([c.id for c in customers], window_start())
    return [
        {
            "id": c.public_id,
            "name": c.name,
            "email": c.email,
            "territory": c.territory.name if c.territory else None,
            "sunsetSince": _iso(c.sunset_at),
            "emailsReceived": received.get(c.id, 0),
            "lastEngagedAt": _iso(c.last_engaged_at),
        }
        for c in customers
    ]


def csv_lines(user: Any) -> Iterator[str]:
    """The whole report as CSV, read ``CSV_CHUNK`` customers at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    offset = 0
    while True:
        chunk = list(db.session.scalars(sunset_customers(user).offset(offset).limit(CSV_CHUNK)))
        if not chunk:
            return
        for row in rows(chunk):
            writer.writerow(
                [
                    row["id"],
                    row["name"],
                    row["email"] or "",
                    row["territory"] or "",
                    row["sunsetSince"] or "",
                    row["emailsReceived"],
                    row["lastEngagedAt"] or "",
                ]
            )
        yield flush()
        offset += CSV_CHUNK
