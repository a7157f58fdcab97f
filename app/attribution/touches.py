"""Touch sources: how a channel tells attribution who it touched, and when.

A channel registers one :class:`TouchSource` per kind of human touch (the email channel:
clicks and opens; SMS: replies). Each gives a query of the touches of a set of customers,
so the core never reads a channel's tables itself: attribution joins it with the orders
in SQL, the engagement score and flows read its rows (:meth:`TouchSource.touches`).

A channel whose kinds come from the same rows (email clicks and opens are both events of
its messages) may also register a :class:`TouchGroup`: one query of those kinds together,
which attribution reads instead of one query per kind (one pass over the events).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import BindParameter, ColumnElement, Select

from app.extensions import db
from app.sets import among

#: customer ids, or an expanding parameter or a SELECT standing for them (attribution
#: builds its statement once and runs it for each chunk of customers)
CustomerIds = Collection[int] | BindParameter[Any] | Select[int]
#: (customer ids, since, until) -> a SELECT of those customers' human touches in
#: [since, until) (None: unbounded), with the columns ``customer_id``, ``campaign_id``,
#: ``message_ref``, ``touched_at`` and ``address``
TouchRows = Select[*tuple[Any, ...]]
TouchQuery = Callable[[CustomerIds, datetime | None, datetime | None], TouchRows]
#: customer ids -> a SELECT of every human touch of those customers of a group's kinds,
#: with a :data:`TouchQuery`'s columns and ``kind`` (one of the group's kinds)
GroupQuery = Callable[[CustomerIds], TouchRows]


@dataclass(frozen=True)
class Touch:
    customer_id: int
    campaign_id: int | None
    message_ref: str
    touched_at: datetime
    #: the address the message went to (an email address, a phone number): engagement
    #: scores each address too (app/engagement/contacts.py); "" when unknown
    address: str = ""


@dataclass(frozen=True)
class TouchSource:
    kind: str  # email_click, email_open, sms_reply, sms_click
    channel: str
    #: the window's default, in days; the setting ATTRIBUTION_<KIND>_DAYS overrides it
    default_days: float
    query: TouchQuery
    #: breaks ties between touches at the same moment: higher wins (a click over an open)
    rank: int = 0

    def window(self) -> timedelta:
        days = current_app.config.get(f"ATTRIBUTION_{self.kind.upper()}_DAYS")
        return timedelta(days=float(days if days is not None else self.default_days))

    def touches(
        self, customer_ids: Collection[int], since: datetime, until: datetime
    ) -> list[Touch]:
        """The human touches of these customers in [since, until), read."""
        rows = db.session.execute(self.query(customer_ids, since, until)).all()
        return [
            Touch(row.customer_id, row.campaign_id, row.message_ref, _aware(row.touched_at),
                  row.address or "")
            for row in rows
            if row.customer_id is not None
        ]  # fmt: skip


@dataclass(frozen=True)
class TouchGroup:
    """Several kinds of touch read by one query: the same touches as the kinds' own
    sources give, each row naming its kind."""

    kinds: frozenset[str]
    query: GroupQuery


def customer_in(column: Any, customer_ids: CustomerIds) -> ColumnElement[bool]:
    """``column`` names one of these customers: a parameter or SELECT standing for them
    as given; a slice of ids as :func:`app.sets.among` passes it (one array on
    PostgreSQL, whose prepared plan for a thousand placeholders scanned every event)."""
    if isinstance(customer_ids, BindParameter | Select):
        return column.in_(customer_ids)  # type: ignore[no-any-return]
    return among(column, customer_ids)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(app: Flask, source: TouchSource) -> None:
    app.extensions.setdefault("decant_touch_sources", {})[source.kind] = source


def sources(app: Flask | None = None) -> list[TouchSource]:
    return list((app or current_app).extensions.get("decant_touch_sources", {}).values())


def register_group(app: Flask, group: TouchGroup) -> None:
    app.extensions.setdefault("decant_touch_groups", []).append(group)


def groups(app: Flask | None = None) -> list[TouchGroup]:
    return list((app or current_app).extensions.get("decant_touch_groups", []))
