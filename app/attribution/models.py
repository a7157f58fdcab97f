"""Which messages an order is credited to: one row per (order, touch) in the window."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.crm.models import Money
from app.extensions import Model
from app.models_base import UTCDateTime

ATTRIBUTED = "attributed"
INFLUENCED = "influenced"
#: the kind of an order's credit when its UTM parameters name the campaign
UTM = "utm"


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
        #: reader that names a campaign seeks it here (migration 0050)
        Index(
            "ix_order_touch_campaign_order_role_total", "campaign_id", "order_id", "role", "total"
        ),
        #: a customer's rows (attribution compares them), an order's with its customer
        #: (its JSON): one index where an (order) one cost a page written per row
        #: (migration 0051)
        Index("ix_order_touch_customer_order", "customer_id", "order_id"),
        #: revenue over time: the credited orders of a period with their totals (and
        #: customers, for a territory), read from the index alone (migration 0049)
        Index("ix_order_touch_role_date_total", "role", "order_date", "total", "customer_id"),
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
    total: Mapped[Decimal] = mapped_column(Money)
