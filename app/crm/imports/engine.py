"""The upsert machinery every entity shares: rows, matching, references, uniqueness, writes.

A batch is worked set-based: every lookup (existing rows, references, unique values) is one
query per kind for the whole batch (chunked for very long ``IN`` lists), and every write is
one executemany per table. Nothing is written before every row has been classified, so a
rejected row never leaves half of itself behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    JSON,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from app.api.errors import fields_from_pydantic
from app.extensions import db
from app.ids import new_public_ids

#: values per ``IN`` list on SQLite (one parameter each; its limit is 32,766 a statement)
CHUNK = 10_000
#: values per PostgreSQL array parameter (one parameter for the whole list)
BIG_CHUNK = 50_000

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"


@dataclass
class Row:
    """One input row on its way to a result."""

    index: int
    data: BaseModel | None = None
    given: set[str] = field(default_factory=set)  # fields the row carried (snake_case)
    errors: dict[str, str] = field(default_factory=dict)
    current: dict[str, Any] | None = None  # the matched database row's compared columns
    target: dict[str, Any] = field(default_factory=dict)  # column values after the upsert
    result: str | None = None
    public_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the report row
    external_id: str | None = None
    digest: str | None = None  # of the raw row (app/crm/imports/digests.py)

    @property
    def ok(self) -> bool:
        return not self.errors

    def reject(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, message)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self.data, name) if name in self.given else default

    def report(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "externalId": self.external_id,
            "result": REJECTED if self.errors else self.result,
            "id": None if self.errors else self.public_id,
            "errors": self.errors,
        }
        out.update(self.extra)
        return out


def key_chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    """``values`` sorted, without repeats, in the slices one :func:`in_values` takes."""
    ordered = sorted(set(values))
    size = BIG_CHUNK if db.session.get_bind().dialect.name == "postgresql" else CHUNK
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def in_values(key: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``key IN values`` (at most a :func:`key_chunks` slice). PostgreSQL: ``key = ANY
    (:array)``, one parameter for ten thousand keys (an expanding ``IN`` costs SQLAlchemy
    about a microsecond a value before the database sees it); elsewhere an expanding
    ``IN``."""
    value_type = String() if isinstance(key.type, NullType) else key.type  # lower(x)
    clause: ColumnElement[bool]
    if db.session.get_bind().dialect.name == "postgresql":
        clause = key == any_(bindparam("_keys", list(values), type_=ARRAY(value_type)))
    else:
        clause = key.in_(bindparam("_keys", list(values), type_=value_type, expanding=True))
    return clause


def fetch_in(columns: Sequence[Any], key: Any, values: Iterable[Any]) -> list[Any]:
    """The rows of ``columns`` whose ``key`` is one of ``values``."""
    connection = db.session.connection()
    found: list[Any] = []
    for part in key_chunks(values):
        found += connection.execute(select(*columns).where(in_values(key, part))).all()
    return found


def parse(
    model: type[BaseModel],
    raw_rows: Sequence[Any],
    digests: Sequence[str | None],
    settled: Container[int] = (),
) -> list[Row]:
    """Validate each raw row against ``model`` (but those ``settled`` already); a bad row
    is rejected naming its fields."""
    rows: list[Row] = []
    for index, raw in enumerate(raw_rows):
        if index in settled:
            continue
        row = Row(index, digest=digests[index])
        if isinstance(raw, dict):
            external = raw.get("externalId")
            row.external_id = external if isinstance(external, str) else None
            try:
                row.data = model.model_validate(raw)
            except ValidationError as exc:
                row.errors = fields_from_pydantic(exc)
            else:
                row.given = set(row.data.model_fields_set)
        else:
            row.errors = {"row": "expected an object"}
        rows.append(row)
    return rows


def lookup(
    table: Table, key_columns: Sequence[str], keys: Iterable[str], value: str = "id"
) -> dict[str, Any]:
    """``key -> table.<value>`` for each key found in the first of ``key_columns`` (in order
    of precedence: external id, public id, then a natural key such as a name) that has it."""
    wanted = {key for key in keys if key}
    found: dict[str, Any] = {}
    for name in key_columns:
        missing = sorted(wanted - found.keys())
        if not missing:
            break
        column = table.c[name]
        for key, got in fetch_in((column, table.c[value]), column, missing):
            found.setdefault(key, got)
    return found


def match_existing(
    table: Table, rows: list[Row], columns: Sequence[str], what: str, natural: str | None = None
) -> None:
    """Attach the database row each input row names by ``externalId`` or ``id`` (public
    id); reject a row whose two ids disagree, an unknown ``id``, or a row naming the same
    record as an earlier row of the batch. With ``natural`` (a unique column such as a
    SKU's code), a row whose external id is new but whose natural key exists adopts that
    record: that is how records made before the bridge get their external ids."""
    wanted = ("id", "public_id", "external_id", "import_digest", *columns)
    select_columns = [table.c[name] for name in dict.fromkeys(wanted)]
    by_external: dict[str, dict[str, Any]] = {}
    by_public: dict[str, dict[str, Any]] = {}
    live = [row for row in rows if row.ok]
    externals = sorted({row.external_id for row in live if row.external_id})
    publics = sorted({row.get("id") for row in live if row.get("id")})
    names = [column.name for column in select_columns]
    for rec in fetch_in(select_columns, table.c.external_id, externals):
        by_external[rec.external_id] = dict(zip(names, rec, strict=True))
    for rec in fetch_in(select_columns, table.c.public_id, publics):
        by_public[rec.public_id] = dict(zip(names, rec, strict=True))
    by_natural: dict[Any, dict[str, Any]] = {}
    if natural is not None:
        candidates = sorted(
            {
                row.get(natural)
                for row in live
                if row.get(natural) is not None
                and row.external_id not in by_external
                and not row.get("id")
            }
        )
        for rec in fetch_in(select_columns, table.c[natural], candidates):
            if rec.external_id is None:  # never steal a record another id owns
                by_natural[getattr(rec, natural)] = dict(zip(names, rec, strict=True))
    seen: dict[Any, int] = {}
    for row in live:
        public = row.get("id")
        current = by_external.get(row.external_id) if row.external_id else None
        if public:
            named = by_public.get(public)
            if named is None:
                row.reject("id", f"unknown {what}")
                continue
            if current is not None and current["id"] != named["id"]:
                row.reject("externalId", f"belongs to another {what} than id {public!r}")
                continue
            if (
                current is None
                and row.external_id
                and named["external_id"] not in (None, row.external_id)
            ):
                row.reject("externalId", f"this {what} has external id {named['external_id']!r}")
                continue
            current = named
        if current is None and natural is not None:
            current = by_natural.get(row.get(natural))
        if current is None and not row.external_id:
            row.reject("externalId", "required (or id, a Decant id, to update)")
            continue
        key = current["id"] if current is not None else ("new", row.external_id)
        if key in seen:
            row.reject("externalId", f"the same {what} as row {seen[key]} of this batch")
            continue
        seen[key] = row.index
        row.current = current
        if current is not None:
            row.public_id = current["public_id"]


def require(rows: list[Row], fields: dict[str, str], what: str) -> None:
    """A new record needs these fields (snake_case name -> wire name)."""
    for row in rows:
        if row.ok and row.current is None:
            for name, wire in fields.items():
                if row.get(name) is None:
                    row.reject(wire, f"required for a new {what}")


def check_unique(
    table: Table,
    rows: list[Row],
    column: str,
    wire: str,
    normalise: Callable[[Any], Any] = lambda value: value,
) -> None:
    """Reject rows whose target ``column`` value belongs to another record, in the
    database or earlier in the batch (the database would refuse the whole batch)."""
    live = [row for row in rows if row.ok and row.target.get(column) is not None]
    changing = [
        row
        for row in live
        if row.current is None
        or normalise(row.current.get(column)) != normalise(row.target[column])
    ]
    values = sorted({normalise(row.target[column]) for row in changing})
    owners: dict[Any, int] = {}
    col = table.c[column]
    key_expr = func.lower(col) if normalise is str.lower else col
    for value, pk in fetch_in((key_expr, table.c.id), key_expr, values):
        owners[value] = pk
    claimed: dict[Any, int] = {}
    for row in live:
        value = normalise(row.target[column])
        mine = row.current["id"] if row.current is not None else None
        if value in claimed:
            row.reject(wire, f"{row.target[column]!r} is also given by row {claimed[value]}")
            continue
        claimed[value] = row.index
        owner = owners.get(value)
        if owner is not None and owner != mine and row in changing:
            row.reject(wire, f"{row.target[column]!r} is already used by another record")


def classify(rows: list[Row], compared: Sequence[str], prefix: str) -> None:
    """created, updated or unchanged, from the target against the current values."""
    created = [row for row in rows if row.ok and row.current is None]
    for row, public_id in zip(created, new_public_ids(prefix, len(created)), strict=True):
        row.result = CREATED
        row.public_id = public_id
    for row in rows:
        if not row.ok or row.current is None:
            continue
        if any(row.target.get(name) != row.current.get(name) for name in compared):
            row.result = UPDATED
        else:
            row.result = UNCHANGED


def write_updates(table: Table, rows: list[Row], columns: Sequence[str], **shared: Any) -> None:
    """One executemany UPDATE of ``columns`` and the row's digest for the updated rows (by
    primary key, in its order: every writer of many rows locks them in id order, so two
    never wait on each other in a circle); then the digests of rows found unchanged the
    long way."""
    changed = sorted(
        (row for row in rows if row.ok and row.result == UPDATED),
        key=lambda row: row.current["id"],  # type: ignore[index]
    )
    if changed:
        names = [*columns, "import_digest", *shared]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_pk"))
            .values({name: bindparam(f"_v_{name}") for name in names})
        )
        params = [
            {
                "_pk": row.current["id"],  # type: ignore[index]
                **{f"_v_{name}": row.target.get(name) for name in columns},
                "_v_import_digest": row.digest,
                **{f"_v_{name}": value for name, value in shared.items()},
            }
            for row in changed
        ]
        db.session.connection().execute(stmt, params)
    write_digests(table, rows)


def write_digests(table: Table, rows: list[Row]) -> None:
    """Store the digest of rows found unchanged the long way (their record had none, or an
    older one), so the next replay of the same row is settled by its digest."""
    stale = sorted(
        (
            {"_pk": row.current["id"], "_digest": row.digest}
            for row in rows
            if row.ok
            and row.result == UNCHANGED
            and row.current is not None
            and row.current.get("import_digest") != row.digest
        ),
        key=lambda params: params["_pk"],  # locked in id order, as write_updates does
    )
    if stale:
        # nothing the host CRM reads changed: ``updated_at`` (read-back) keeps its value
        kept = {column.name: column for column in table.columns if column.onupdate is not None}
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_pk"))
            .values(import_digest=bindparam("_digest"), **kept)
        )
        db.session.connection().execute(stmt, stale)


def write_inserts(
    table: Table, rows: list[Row], columns: Sequence[str], **shared: Any
) -> dict[int, int]:
    """INSERT the created rows in one go; their new primary keys by row index."""
    created = [row for row in rows if row.ok and row.result == CREATED]
    if not created:
        return {}
    names = ["public_id", *columns, "import_digest", *shared]
    fixed = tuple(shared.values())
    values = [
        (row.public_id, *(row.target.get(name) for name in columns), row.digest, *fixed)
        for row in created
    ]
    ids = insert_values(table, names, values, returning=True)
    return {row.index: pk for row, pk in zip(created, ids, strict=True)}


def insert_values(
    table: Table, names: Sequence[str], values: list[tuple[Any, ...]], *, returning: bool = False
) -> list[int]:
    """INSERT ``values`` (tuples for ``names``); the new ids in order when ``returning``.

    PostgreSQL: ids drawn from the table's sequence in one query, then COPY, the driver's
    fastest path (a multi-row INSERT of 10,000 rows spends longer in the driver turning
    its placeholders into PostgreSQL's than the server spends inserting). Elsewhere one
    executemany INSERT ... RETURNING."""
    if not values:
        return []
    names = [*names, *_scalar_defaults(table, names)]
    extra = tuple(table.c[name].default.arg for name in names[len(values[0]) :])  # type: ignore[union-attr]
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        stmt = insert(table)
        params = [dict(zip(names, (*value, *extra), strict=True)) for value in values]
        if not returning:
            connection.execute(stmt, params)
            return []
        stmt = stmt.returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(stmt, params).scalars())
    quote = connection.dialect.identifier_preparer.quote
    ids: list[int] = []
    if returning:
        sequence = connection.exec_driver_sql(
            f"SELECT pg_get_serial_sequence('{quote(table.name)}', 'id')"
        ).scalar()
        ids = [
            pk
            for (pk,) in connection.exec_driver_sql(
                "SELECT nextval(%(seq)s) FROM generate_series(1, %(n)s)",
                {"seq": sequence, "n": len(values)},
            )
        ]
    json_at = [at for at, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    header = (["id"] if returning else []) + [quote(name) for name in names]
    sql = f"COPY {quote(table.name)} ({', '.join(header)}) FROM STDIN"
    import psycopg  # only on PostgreSQL

    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            for at, value in enumerate(values):
                record = [*value, *extra]
                for position in json_at:
                    record[position] = json.dumps(record[position])
                copy.write_row([ids[at], *record] if returning else record)
    except psycopg.IntegrityError as exc:  # a concurrent import took an external id
        raise IntegrityError(sql, None, exc) from exc
    return ids


def _scalar_defaults(table: Table, given: Sequence[str]) -> list[str]:
    """Columns left out that have a Python-side scalar default (given explicitly: COPY
    knows only the database's defaults); a callable default left out is an error."""
    out = []
    for column in table.columns:
        if column.name in given or column.primary_key or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"{table.name}.{column.name}: give it, its default is computed")
        out.append(column.name)
    return out


def fill_targets(
    rows: list[Row],
    fields: dict[str, str],
    defaults: dict[str, Any],
    required: Sequence[str] = (),
) -> None:
    """Each row's target: its current values (or ``defaults`` for a new record) with the
    fields it carried laid over (row field -> column). A ``required`` column left empty
    rejects the row naming the wire field."""
    wire = {column: name for name, column in fields.items()}
    for row in rows:
        if not row.ok:
            continue
        base = row.current if row.current is not None else defaults
        row.target = {column: base.get(column) for column in (*fields.values(), "external_id")}
        for name, column in fields.items():
            if name in row.given:
                row.target[column] = getattr(row.data, name)
        if row.external_id:
            row.target["external_id"] = row.external_id
        for column in required:
            if row.target.get(column) is None:
                what = "required" if row.current is None else "cannot be emptied"
                row.reject(camel(wire.get(column, column)), what)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
