"""Collections answer ``{"items", "total", "page", "perPage"}``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import Select, func, select

from app.api.spec import CamelModel
from app.extensions import db

MAX_PER_PAGE = 200


class PageQuery(CamelModel):
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


def paginate(
    stmt: Select[Any],
    page: int,
    per_page: int,
    serialize: Callable[[Any], dict[str, Any]],
    *,
    window_count: bool = False,
    rows: bool = False,
    serialize_page: Callable[[Sequence[Any]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """One page of ``stmt`` and the total.

    ``rows``: ``serialize`` gets each whole row (a statement selecting an entity and
    columns beside it), not its first column.

    ``serialize_page`` serializes the whole page at once (instead of ``serialize`` item
    by item), for items that need related rows read in one query for the page.

    ``window_count`` reads the total from ``count(*) OVER ()`` on the page query itself:
    one round trip instead of two on hot paths. Only for statements whose rows are the
    items (no DISTINCT, no joined eager loading of collections); a page past the end
    still falls back to a separate count.
    """
    offset = (page - 1) * per_page
    if window_count:
        found = db.session.execute(
            stmt.add_columns(func.count().over()).limit(per_page).offset(offset)
        ).all()
        items: Sequence[Any] = [row[:-1] if rows else row[0] for row in found]
        total = found[0][-1] if found else (_count(stmt) if page > 1 else 0)
    else:
        total = _count(stmt)
        page_of = stmt.limit(per_page).offset(offset)
        items = db.session.execute(page_of).all() if rows else db.session.scalars(page_of).all()
    return {
        "items": serialize_page(items) if serialize_page else [serialize(r) for r in items],
        "total": total or 0,
        "page": page,
        "perPage": per_page,
    }


def _count(stmt: Select[Any]) -> int | None:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
