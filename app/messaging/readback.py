"""Read-back of a channel's messages: the host CRM pulls what Decant sent and what became
of it (status, delivery, engagement), page by page or by what changed since.

Shared by the channels' list routes so each answers the same way: scoped like customers
(a rep sees messages to their territory's customers and the ones they sent), newest
first, or in change order with ``updatedSince``/``cursor`` (see :mod:`app.crm.readback`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select

from app.api.pagination import PageQuery, paginate
from app.crm import readback
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, visible_customer_ids
from app.errors import unknown
from app.extensions import db
from app.messaging.models import Campaign

if TYPE_CHECKING:
    from app.auth.models import User


def messages_query(model: Any, user: User, customer_id: str | None = None) -> Select[Any]:
    """``model``'s rows ``user`` may see, newest first; ``customer_id`` narrows (404 when
    that customer is unknown or hidden)."""
    stmt = select(model).order_by(model.id.desc())
    if not user.sees_all_territories:
        stmt = stmt.where(
            or_(model.customer_id.in_(visible_customer_ids(user)), model.user_id == user.id)
        )
    if customer_id:
        customer = get_visible_customer(customer_id, user)
        if customer is None:
            raise unknown("customer", field="customerId")
        stmt = stmt.where(model.customer_id == customer.id)
    return stmt


def public_ids(model: Any, ids: Iterable[int | None], *extra: str) -> dict[int, tuple[Any, ...]]:
    """``{id: (public_id, *extra columns)}`` for these rows, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    columns = [model.id, model.public_id, *(getattr(model, name) for name in extra)]
    rows = db.session.execute(select(*columns).where(model.id.in_(wanted)))
    return {row[0]: tuple(row[1:]) for row in rows}


def references(
    messages: list[Any],
) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """The customers' (public id, external id) and campaigns' public ids of a page."""
    customers = public_ids(Customer, (m.customer_id for m in messages), "external_id")
    campaigns = public_ids(Campaign, (m.campaign_id for m in messages))
    return customers, campaigns


def page(
    stmt: Select[Any],
    query: PageQuery,
    *,
    kind: str,
    model: Any,
    serialize_page: Callable[[list[Any]], list[dict[str, Any]]],
) -> dict[str, Any]:
    """A page of messages: by page number, or by change with ``nextCursor``."""
    if readback.wants_changes(query):  # type: ignore[arg-type]
        result = readback.changes(
            stmt,
            query,  # type: ignore[arg-type]
            query.per_page,
            lambda row: row,
            kind=kind,
            model=model,
            time_column=model.updated_at,
            since_column=model.updated_at,
        )
    else:
        result = paginate(stmt, query.page, query.per_page, lambda row: row)
    result["items"] = serialize_page(result["items"])
    return result
