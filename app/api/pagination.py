"""Collections answer ``{"items", "total", "page", "perPage"}``."""

from __future__ import annotations

from collections.abc import Callable
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
    stmt: Select[Any], page: int, per_page: int, serialize: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [serialize(r) for r in rows],
        "total": total or 0,
        "page": page,
        "perPage": per_page,
    }
