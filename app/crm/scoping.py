"""Territory scoping: a rep sees only their territory's customers, everywhere.

Every query that reaches customers (or rows hanging off a customer) goes through
:func:`visible_customer_ids` or :func:`scope_customers`, so the rule lives in one place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, select

from app.crm.models import Customer


def customer_filter(user: Any):
    """The WHERE clause limiting customers to what ``user`` may see."""
    if user.sees_all_territories:
        return None
    if user.territory_id is None:
        return false()
    return Customer.territory_id == user.territory_id


def scope_customers(stmt: Select[Any], user: Any) -> Select[Any]:
    clause = customer_filter(user)
    return stmt if clause is None else stmt.where(clause)


def visible_customer_ids(user: Any) -> Select[Any]:
    """A subquery of the customer ids ``user`` may see (for channel tables)."""
    return scope_customers(select(Customer.id), user)


def get_visible_customer(public_id: str, user: Any) -> Customer | None:
    """The customer named by its Decant id or external id, if ``user`` may see it."""
    from app.crm.references import named_by
    from app.extensions import db

    stmt = scope_customers(select(Customer).where(named_by(Customer, public_id)), user)
    return db.session.scalar(stmt)
