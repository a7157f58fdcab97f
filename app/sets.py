"""``column IN ids`` for a slice of ids, as each database takes it best.

On PostgreSQL ``column = ANY(:ids)``: the slice is one array parameter, so the statement
is the same text for every slice and the server parses one value, not a thousand
placeholders (an expanding ``IN`` also costs SQLAlchemy a parameter each before the
database sees it). It also keeps PostgreSQL's plans right when psycopg prepares a
statement run often (after five runs): the generic plan of ``= ANY($1)`` expects a few
rows, where that of a thousand-placeholder ``IN`` may scan a whole table and test each
row against the list. Elsewhere (SQLite) an expanding ``IN``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db


def among(column: Any, ids: Iterable[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``ids`` (a slice: SQLite takes at most 32,766 parameters)."""
    values = list(ids)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]
