"""The dates a "date field" trigger can watch: a custom field holding an ISO date, or one
of the customer's own date columns (when they became a customer, their first and last
order), each as an ISO text expression so one comparison serves both kinds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, select

from app.crm.models import Customer, Order
from app.extensions import db

#: built-in date columns by the name a trigger uses -> the page's label
BUILTIN = {
    "created_at": "Customer since (created in Decant)",
    "first_order_date": "First order date",
    "last_order_date": "Last order date",
}


def iso_text(name: str) -> Any:
    """The watched date as ``YYYY-MM-DD...`` text (custom fields hold their own text)."""
    if name == "created_at":
        return cast(Customer.created_at, String)
    if name == "last_order_date":
        return cast(Customer.last_order_date, String)
    if name == "first_order_date":
        first = (
            select(func.min(Order.order_date))
            .where(Order.customer_id == Customer.id)
            .correlate(Customer)
            .scalar_subquery()
        )
        return cast(first, String)
    return Customer.custom_fields[name].as_string()


def custom_field_in_use(name: str) -> bool:
    """Does any customer hold custom field ``name``? (one indexed-less probe, LIMIT 1)"""
    held = Customer.custom_fields[name].as_string().is_not(None)
    return db.session.scalar(select(Customer.id).where(held).limit(1)) is not None
