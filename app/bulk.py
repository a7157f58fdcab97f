"""A list of values as one JSON-array parameter (used by the CRM imports only).

:func:`listed` and :func:`json_list`: a thousand ids (or addresses) go to the database as
one JSON array in one parameter, where an expanding ``IN`` costs about a microsecond per
value in SQLAlchemy before the database sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Integer, Select, String, bindparam, cast, func, select
from sqlalchemy.types import TypeEngine


def listed(name: str, dialect: str, value_type: TypeEngine[Any] | None = None) -> Select[Any]:
    """A SELECT of the values of the JSON array bound as parameter ``name`` (pass it
    through :func:`json_list`), for ``column.in_(listed(...))`` in a statement built
    for ``dialect`` (SQLite's ``json_each``, PostgreSQL's
    ``json_array_elements_text``); values come back as ``value_type`` (default
    Integer)."""
    param = bindparam(name, type_=String())
    if dialect == "postgresql":
        elements = func.json_array_elements_text(cast(param, JSON)).table_valued("value")
        return select(cast(elements.c.value, value_type or Integer()))
    return select(func.json_each(param).table_valued("value").c.value)


def json_list(values: Iterable[Any]) -> str:
    """The parameter value for :func:`listed`."""
    return json.dumps(list(values), separators=(",", ":"))
