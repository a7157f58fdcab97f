"""Moments computed in SQL, the same on PostgreSQL and SQLite (attribution matches orders
with touches in their windows in one statement; the dashboard groups by day and week).

PostgreSQL keeps ``timestamptz``; SQLite keeps text ``YYYY-MM-DD HH:MM:SS.ffffff`` (what
SQLAlchemy writes), which compares as time does, so a shifted moment is written in that
same form. Shifts are whole seconds (a window is days: whole seconds in practice). Days
are UTC days on both.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from app.models_base import UTCDateTime


class _Shift(FunctionElement[Any]):
    type: Any = UTCDateTime()
    inherit_cache = True
    #: the shift is part of the statement (not a parameter), so of its cache key too
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("seconds", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, moment: Any, seconds: int = 0) -> None:
        self.seconds = int(seconds)
        super().__init__(moment)


class day_plus(_Shift):  # noqa: N801 (an SQL function)
    """The start of a date (UTC midnight) plus ``seconds``."""

    name = "day_plus"
    inherit_cache = True


class moment_plus(_Shift):  # noqa: N801 (an SQL function)
    """A stored moment plus ``seconds`` (negative: earlier)."""

    name = "moment_plus"
    inherit_cache = True


class utc_day(_Shift):  # noqa: N801 (an SQL function)
    """The UTC date of a stored moment plus ``seconds``. Compared with a date column, it
    lets an index on that date serve a range computed from the moment; unshifted on
    PostgreSQL it is the expression statistics are kept on (migration 0046)."""

    name = "utc_day"
    type = Date()
    inherit_cache = True


def week_of(day: date) -> date:
    """The Monday of the day's week (weeks run Monday to Sunday)."""
    return day - timedelta(days=day.weekday())


class week_start(FunctionElement[Any]):  # noqa: N801 (an SQL function)
    """The Monday of a date's week in SQL: :func:`week_of` of a date column."""

    name = "week_start"
    type = Date()
    inherit_cache = True


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(list(element.clauses)[0], **kw))


@compiles(day_plus, "postgresql")
def _day_plus_pg(element: day_plus, compiler: SQLCompiler, **kw: Any) -> str:
    day = _argument(element, compiler, **kw)
    return f"(CAST({day} AS timestamp) AT TIME ZONE 'UTC' + interval '{element.seconds} seconds')"


@compiles(moment_plus, "postgresql")
def _moment_plus_pg(element: moment_plus, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_argument(element, compiler, **kw)} + interval '{element.seconds} seconds')"


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment = _argument(element, compiler, **kw)
    if element.seconds:
        moment = f"({moment} + interval '{element.seconds} seconds')"
    return f"date(timezone('UTC', {moment}))"


@compiles(day_plus, "sqlite")
def _day_plus_sqlite(element: day_plus, compiler: SQLCompiler, **kw: Any) -> str:
    day = _argument(element, compiler, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%S', {day}, '{element.seconds:+d} seconds') || '.000000')"


@compiles(moment_plus, "sqlite")
def _moment_plus_sqlite(element: moment_plus, compiler: SQLCompiler, **kw: Any) -> str:
    # shifted by whole seconds, the fraction is the moment's own (characters 20 on)
    moment = _argument(element, compiler, **kw)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, '{element.seconds:+d} seconds')"
        f" || substr({moment}, 20))"
    )


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment = _argument(element, compiler, **kw)
    if element.seconds:
        return f"date({moment}, '{element.seconds:+d} seconds')"
    return f"date({moment})"


@compiles(week_start, "postgresql")
def _week_start_pg(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # a plain timestamp: no time zone takes part
    day = _argument(element, compiler, **kw)
    return f"CAST(date_trunc('week', CAST({day} AS timestamp)) AS date)"


@compiles(week_start, "sqlite")
def _week_start_sqlite(element: week_start, compiler: SQLCompiler, **kw: Any) -> str:
    # back six days, then forward to a Monday: the Monday on or before the day
    return f"date({_argument(element, compiler, **kw)}, '-6 days', 'weekday 1')"
