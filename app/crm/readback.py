"""Incremental read-back: what changed since a time, page by page, with a stable cursor.

A list endpoint given ``updatedSince`` or ``cursor`` answers in change order (the time a
row last changed, then its id, both ascending) instead of its usual order, and adds
``nextCursor``: the position after the last item. A client keeps the last cursor and asks
again later to get only what changed since; rows changing while it pages come back later
rather than being skipped. The cursor is signed, so it is opaque and cannot be forged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import Field
from sqlalchemy import Select, and_, or_

from app.api.spec import CamelModel
from app.errors import invalid
from app.extensions import db

SALT = "decant-readback-cursor"


class ChangesQuery(CamelModel):
    updated_since: datetime | None = Field(
        default=None, description="Only rows changed at or after this time (ISO 8601, UTC)"
    )
    cursor: str | None = Field(
        default=None, max_length=300, description="nextCursor from an earlier answer"
    )


def wants_changes(query: ChangesQuery) -> bool:
    return query.updated_since is not None or query.cursor is not None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _position(cursor: str, kind: str) -> tuple[datetime | None, int]:
    try:
        data = _serializer().loads(cursor)
        if data[0] != kind:
            raise ValueError("a cursor of another list")
        at = datetime.fromisoformat(data[1]) if data[1] else None
        return at, int(data[2])
    except (BadSignature, ValueError, TypeError, IndexError, KeyError) as exc:
        raise invalid({"cursor": "not a cursor this list gave"}) from exc


def changes(
    stmt: Select[Any],
    query: ChangesQuery,
    per_page: int,
    serialize: Callable[[Any], dict[str, Any]],
    *,
    kind: str,
    model: Any,
    time_column: Any | None,
    since_column: Any,
    serialize_page: Callable[[Sequence[Any]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """One page of ``stmt``'s rows in change order after the cursor. ``time_column`` None:
    the rows never change once written (activities), so the id alone orders them."""
    since = query.updated_since
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        stmt = stmt.where(since_column >= since)
    if query.cursor:
        at, last_id = _position(query.cursor, kind)
        if time_column is None or at is None:
            stmt = stmt.where(model.id > last_id)
        else:
            stmt = stmt.where(or_(time_column > at, and_(time_column == at, model.id > last_id)))
    order = (model.id,) if time_column is None else (time_column, model.id)
    rows = db.session.scalars(stmt.order_by(None).order_by(*order).limit(per_page + 1)).all()
    more = len(rows) > per_page
    rows = rows[:per_page]
    if rows:
        last = rows[-1]
        at = getattr(last, time_column.key) if time_column is not None else None
        next_cursor: str | None = _serializer().dumps(
            [kind, at.isoformat() if at else None, last.id]
        )
    else:
        next_cursor = query.cursor
    return {
        "items": serialize_page(rows) if serialize_page else [serialize(row) for row in rows],
        "total": len(rows),
        "page": 1,
        "perPage": per_page,
        "nextCursor": next_cursor,
        "hasMore": more,
    }
