"""A batch's rows in and out without SQLAlchemy's work on every row or value.

:func:`insert_rows`: many rows in one executemany INSERT.

For an executemany, SQLAlchemy builds and type-processes each row's parameters, shared
values included; for a campaign batch's activities that cost more than the database's
own insert (docs/decisions.md, 63). :func:`insert_rows` compiles the statement with
SQLAlchemy once per table, columns and dialect, processes the values every row shares
once, and hands each row's own values to the driver as they are. That is allowed only
for columns whose type needs no conversion on the dialect (checked when compiling), so
the rows are written exactly as a plain ``session.execute(insert(table), rows)`` would
write them.

:func:`listed` and :func:`execute`: a batch's thousand ids (or addresses) go to the
database as one JSON array in one parameter, where an expanding ``IN`` costs about a
microsecond per value in SQLAlchemy before the database sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Integer, Select, String, Table, bindparam, cast, func, insert, select
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

from app.extensions import db


def insert_rows(
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    shared: Mapping[str, Any] | None = None,
) -> None:
    """INSERT one row per item of ``rows`` (values for ``columns``, in that order), each
    also given the ``shared`` values. Columns given in neither get their server default or
    NULL; a column with a Python-side default must be given (ValueError otherwise)."""
    shared = shared or {}
    connection = db.session.connection()
    plan = _plan(table, tuple(columns), tuple(shared), connection.dialect)
    params = plan.parameters(rows, [shared[name] for name in plan.shared])
    if params:
        connection.exec_driver_sql(plan.sql, params)


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # placeholders in the statement's order
    shared: tuple[str, ...]
    processors: tuple[Any, ...]  # one per shared value (None: as it is)
    order: Any  # picks the placeholders' values from (*row, *shared values)
    positional: bool

    def parameters(
        self, rows: Iterable[Sequence[Any]], shared_values: list[Any]
    ) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        fixed = tuple(
            value if process is None else process(value)
            for process, value in zip(self.processors, shared_values, strict=True)
        )
        order = self.order
        if self.positional:
            return [order((*row, *fixed)) for row in rows]
        names = self.names
        return [dict(zip(names, order((*row, *fixed)), strict=True)) for row in rows]


@lru_cache(maxsize=64)
def _plan(
    table: Table, columns: tuple[str, ...], shared: tuple[str, ...], dialect: Dialect
) -> _Plan:
    given = (*columns, *shared)
    if len(set(given)) != len(given):
        raise ValueError(f"{table.name}: a column is given twice in {given}")
    for name in columns:
        if _processor(table, name, dialect) is not None:
            raise TypeError(
                f"{table.name}.{name}: its type converts values on {dialect.name}; "
                "give it as a shared value or insert through SQLAlchemy"
            )
    statement = insert(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in given}
    )
    compiled = statement.compile(dialect=dialect)
    positions = compiled.positiontup
    names = tuple(positions) if positions is not None else tuple(compiled.binds)
    unknown = set(names) - set(given)
    if unknown:
        raise ValueError(f"{table.name}: no value given for {sorted(unknown)}")
    index = {name: at for at, name in enumerate(given)}
    picks = [index[name] for name in names]
    order = itemgetter(*picks) if len(picks) > 1 else (lambda values: (values[picks[0]],))
    return _Plan(
        sql=str(compiled),
        names=names,
        shared=shared,
        processors=tuple(_processor(table, name, dialect) for name in shared),
        order=order,
        positional=positions is not None,
    )


def _processor(table: Table, name: str, dialect: Dialect) -> Any:
    column_type = table.c[name].type
    return column_type.dialect_impl(dialect).bind_processor(dialect)


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


def execute(statement: Executable, params: Mapping[str, Any]) -> CursorResult[Any]:
    """Run a Core statement on the session's connection, after flushing the session as
    ``session.execute`` would (pending objects are seen), without the ORM's work on
    the statement and its rows."""
    db.session.flush()
    return db.session.connection().execute(statement, params)
