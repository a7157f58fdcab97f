"""What a rep decided about an account on their call list: a task to do, a snooze, done."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import UTCDateTime, utcnow


class RepFollowUp(PublicIdMixin, Model):
    """A task for a rep about a customer (made by a manager or, later, a flow), or the
    rep's own note that an account is handled (``done_on``) or snoozed until a day."""

    __tablename__ = "rep_follow_up"
    id_prefix = "fup"
    __table_args__ = (Index("ix_rep_follow_up_rep_customer", "rep_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # task | snooze | done
    title: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)  # a snooze's last day
    done_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
