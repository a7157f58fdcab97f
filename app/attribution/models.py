"""Which messages an order is credited to: one row per (order, touch) in the window."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Date, ForeignKey, Index, String, literal, text
from sqlalchemy.orm import Mapped, mapped_column

from app.crm.models import Money
from app.extensions import Model
from app.models_base import UTCDateTime
from app.moments import week_of

ATTRIBUTED = "attributed"
INFLUENCED = "influenced"
#: the kind of an order's credit when its UTM parameters name the campaign
UTM = "utm"


def _week_of_order(context: Any) -> date:
    return week_of(context.get_current_parameters()["order_date"])


class OrderTouch(Model):
    """A human touch of the order's customer within the window before the order.

    The last one is ``attributed`` (the order's credit); every other one ``influenced``.
    Rows are rebuilt for an order whenever its customer's orders change, with the order's
    date and total as they are then: revenue reports sum these rows alone, without joining
    millions of orders (migration 0046)."""

    __tablename__ = "order_touch"
    __table_args__ = (
        #: campaign revenue: a campaign's orders in order with their totals, read from the
        #: index alone (grouped as read: no hashing of every (campaign, order)); every
        #: reader that names a campaign seeks it here (migration 0050). Its customers come
        #: before their orders, so the rows of a chunk of customers, written together,
        #: share pages within each campaign (migration 0052)
        Index(
            "ix_order_touch_campaign_customer_order",
            "campaign_id",
            "customer_id",
            "order_id",
            "role",
            "total",
        ),
        #: a customer's rows (attribution compares them), an order's with its customer
        #: (its JSON): one index where an (order) one cost a page written per row
        #: (migration 0051)
        Index("ix_order_touch_customer_order", "customer_id", "order_id"),
        #: revenue over time: the attributed orders of a period's weeks with their
        #: dates, totals, customers (a territory), orders and campaigns (what revenue
        #: reports join), read from the index alone (:func:`attributed_in`). Attributed rows
        #: only, the only ones read by date; by week, then customer, so that a chunk of
        #: customers' rows share a page per week where by date they took a page each
        #: (migration 0052). The role is kept too: SQLite checks the predicate on every
        #: row it reads and would otherwise read the table for it
        Index(
            "ix_order_touch_attributed_week",
            "order_week",
            "customer_id",
            "order_date",
            "total",
            "order_id",
            "campaign_id",
            "role",
            postgresql_where=text("role = 'attributed'"),
            sqlite_where=text("role = 'attributed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # email_click, email_open, sms_reply, utm
    message_ref: Mapped[str] = mapped_column(String(40))  # the message's public id ("": utm)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    role: Mapped[str] = mapped_column(String(12))
    #: the order's date and total (copied: the order's own are the truth)
    order_date: Mapped[date] = mapped_column(Date)
    #: the Monday of the order's week (attribution writes it with the date)
    order_week: Mapped[date] = mapped_column(Date, default=_week_of_order)
    total: Mapped[Decimal] = mapped_column(Money)


def attributed_in(start: date, end: date) -> list[ColumnElement[bool]]:
    """The rows that carry the credit of orders placed in [start, end), as the index of
    attributed rows finds them: its weeks, then the days. The role is written into the
    statement's text: a plan made for any value of a parameter (PostgreSQL's generic
    plan of a prepared statement) cannot use an index of attributed rows alone."""
    return [
        OrderTouch.role == literal(ATTRIBUTED, literal_execute=True),
        OrderTouch.order_week >= week_of(start),
        OrderTouch.order_week < end,
        OrderTouch.order_date >= start,
        OrderTouch.order_date < end,
    ]
