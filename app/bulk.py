"""Many rows in one executemany INSERT, without SQLAlchemy's work on every row.

For an executemany, SQLAlchemy builds and type-processes each row's parameters, shared
values included; for a campaign batch's activities that cost more than the database's
own insert (docs/decisions.md, 63). :func:`insert_rows` compiles the statement with
SQLAlchemy once per table, columns and dialect, processes the values every row shares
once, and hands each row's own values to the driver as they are. That is allowed only
for columns whose type needs no conversion on the dialect (checked when compiling), so
the rows are written exactly as a plain ``session.execute(insert(table), rows)`` would
write them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect

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
