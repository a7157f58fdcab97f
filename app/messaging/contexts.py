"""Customers' token values for a batch of messages, read with one query.

Campaign batches and flow steps of every channel render many customers at once; they read
the columns :func:`app.messaging.rendering.context_values` needs as plain rows (no
Customer, Territory and User objects per recipient)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.crm.models import Customer, Territory
from app.extensions import db
from app.messaging.rendering import context_values


def customer_contexts(ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Each customer's token values (:func:`~app.messaging.rendering.customer_context`)."""
    if not ids:
        return {}
    territory, rep = aliased(Territory), aliased(User)
    query = (
        select(
            Customer.id,
            Customer.name,
            Customer.last_order_date,
            territory.name,
            rep.name,
            Customer.custom_fields,
        )
        .outerjoin(territory, Customer.territory_id == territory.id)
        .outerjoin(rep, Customer.rep_id == rep.id)
        .where(Customer.id.in_(list(ids)))
    )
    return {row[0]: context_values(*row[1:]) for row in db.session.execute(query)}
