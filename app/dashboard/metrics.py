"""What channels contribute to the marketing dashboard, and the period they answer for.

A channel registers a function ``(Scope) -> dict`` under its name; the dashboard calls
each for the chosen period and territory, so the core reads no channel's tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, Select, select

from app.crm.models import Customer
from app.moments import week_of


@dataclass(frozen=True)
class Scope:
    """A period [start, end) of whole days, and optionally one territory."""

    start: date
    end: date  # exclusive
    territory_id: int | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end, time.min, tzinfo=UTC)

    def customers(self) -> Select[Any]:
        """The customer ids in scope (all, or the territory's)."""
        stmt = select(Customer.id)
        if self.territory_id is not None:
            stmt = stmt.where(Customer.territory_id == self.territory_id)
        return stmt

    def customer_clause(self, column: Any) -> ColumnElement[bool] | None:
        """``column`` (a customer id) in scope, or None when every customer is."""
        if self.territory_id is None:
            return None
        clause: ColumnElement[bool] = column.in_(self.customers())
        return clause

    def weeks(self) -> list[date]:
        """The Mondays of the weeks the period covers (chart buckets)."""
        first = week_of(self.start)
        out = []
        while first < self.end:
            out.append(first)
            first += timedelta(days=7)
        return out


Provider = Callable[[Scope], dict[str, Any]]


def register(app: Flask, channel: str, provider: Provider) -> None:
    app.extensions.setdefault("decant_dashboard_metrics", {})[channel] = provider


def providers() -> dict[str, Provider]:
    return dict(current_app.extensions.get("decant_dashboard_metrics", {}))
