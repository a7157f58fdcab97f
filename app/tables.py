"""Server-side tables: sort by a whitelisted column, search, paginate, from query args.

A page declares its columns once and lets the request pick among them::

    CUSTOMERS = TableSpec(
        columns={"name": Customer.name, "revenue": Customer.lifetime_revenue},
        default_sort="name",
        search=(Customer.name, Customer.email),   # optional: ``q`` matches any of them
        tiebreak=Customer.id,
    )
    table = CUSTOMERS.from_request()               # ?sort=revenue&dir=desc&q=...&page=2
    pagination = table.paginate(stmt)              # sorted, searched, one page
    return render_template("...", table=table, pagination=pagination)

and the template uses the macros of ``_table.html`` (``sort_header``, ``search_box``) and
``_pager.html``. An unknown ``sort`` or ``dir`` falls back to the default: a column never
reaches SQL unless the page listed it, so the query args cannot order by anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import request, url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, or_

from app.extensions import db

Direction = Literal["asc", "desc"]
MAX_PER_PAGE = 200
MAX_QUERY = 200


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class TableSpec:
    """What may be sorted (``columns``: query-arg name -> SQL expression) and searched."""

    columns: Mapping[str, Any]
    default_sort: str
    default_dir: Direction = "asc"
    search: Sequence[Any] = ()
    #: a unique column last in every ORDER BY, so pages never repeat or skip a row
    tiebreak: Any = None
    per_page: int = 25
    #: columns whose natural first order is descending (revenue, dates: biggest first)
    desc_first: frozenset[str] = field(default_factory=frozenset)

    def from_request(self, args: Mapping[str, str] | None = None) -> TableState:
        args = request.args if args is None else args
        sort = args.get("sort") or self.default_sort
        if sort not in self.columns:
            sort = self.default_sort
        direction: Direction
        raw = args.get("dir")
        if raw in ("asc", "desc"):
            direction = raw  # type: ignore[assignment]
        elif sort == self.default_sort:
            direction = self.default_dir
        else:
            direction = "desc" if sort in self.desc_first else "asc"
        return TableState(
            spec=self,
            sort=sort,
            direction=direction,
            q=(args.get("q") or "").strip()[:MAX_QUERY],
            page=_positive(args.get("page"), 1, 100_000),
            per_page=_positive(args.get("perPage"), self.per_page, MAX_PER_PAGE),
        )


def _positive(raw: str | None, default: int, maximum: int) -> int:
    try:
        return max(1, min(int(raw or default), maximum))
    except ValueError:
        return default


@dataclass(frozen=True)
class TableState:
    """One request's choice: the sort, its direction, the search text, the page."""

    spec: TableSpec
    sort: str
    direction: Direction
    q: str
    page: int
    per_page: int

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` searched (when the spec has search columns) and ordered."""
        if self.q and self.spec.search:
            pattern = f"%{_escape_like(self.q.lower())}%"
            stmt = stmt.where(
                or_(*(db.func.lower(col).like(pattern, escape="\\") for col in self.spec.search))
            )
        column = self.spec.columns[self.sort]
        order = column.desc() if self.direction == "desc" else column.asc()
        stmt = stmt.order_by(None).order_by(order.nulls_last())
        if self.spec.tiebreak is not None:
            tiebreak = self.spec.tiebreak
            stmt = stmt.order_by(tiebreak.desc() if self.direction == "desc" else tiebreak)
        return stmt

    def paginate(self, stmt: Select[Any]) -> Pagination:
        return db.paginate(
            self.apply(stmt), page=self.page, per_page=self.per_page, error_out=False
        )

    # --- for templates -------------------------------------------------------------

    def url(self, **changes: Any) -> str:
        """The current page's URL with some query args changed (None drops one)."""
        args: dict[str, Any] = request.args.to_dict()
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = value
        return url_for(request.endpoint or "crm.customers", **(request.view_args or {}), **args)

    def sort_url(self, key: str) -> str:
        """Sort by ``key``; the sorted column's link flips the direction. Back to page 1."""
        if key == self.sort:
            direction = "desc" if self.direction == "asc" else "asc"
        else:
            direction = "desc" if key in self.spec.desc_first else "asc"
        return self.url(sort=key, dir=direction, page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "ascending" if self.direction == "asc" else "descending"

    def hidden_args(self, *skip: str) -> list[tuple[str, str]]:
        """The query args a search form must carry along (the sort, other filters)."""
        return [(k, v) for k, v in request.args.items(multi=True) if k not in {"q", "page", *skip}]
