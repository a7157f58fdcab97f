"""Territory scoping: a rep sees only their territory's customers, everywhere.

Every query that reaches customers (or rows hanging off a customer) goes through
:func:`visible_customer_ids` or :func:`scope_customers`, so the rule lives in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVarTuple

from sqlalchemy import ColumnElement, Select, false, select

from app.crm.models import Customer

if TYPE_CHECKING:
    from app.auth.actor import Actor


def customer_filter(user: Actor) -> ColumnElement[bool] | None:
    """The WHERE clause limiting customers to what ``user`` may see."""
    if user.sees_all_territories:
        return None
    if user.territory_id is None:
        return false()
    return Customer.territory_id == user.territory_id


_Ts = TypeVarTuple("_Ts")


def scope_customers(stmt: Select[*_Ts], user: Actor) -> Select[*_Ts]:
    clause = customer_filter(user)
    return stmt if clause is None else stmt.where(clause)


def visible_customer_ids(user: Actor) -> Select[int]:
    """A subquery of the customer ids ``user`` may see (for channel tables)."""
    return scope_customers(select(Customer.id), user)


def get_visible_customer(public_id: str, user: Actor) -> Customer | None:
    """The customer named by its Decant id or external id, if ``user`` may see it."""
    from app.crm.references import named_by
    from app.extensions import db

    stmt = scope_customers(select(Customer).where(named_by(Customer, public_id)), user)
    return db.session.scalar(stmt)
