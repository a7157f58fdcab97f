"""Email lists and their members."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.auth.models import User


class EmailList(PublicIdMixin, TimestampMixin, Model):
    """A manual list (members added by hand or import) or a smart list (criteria)."""

    __tablename__ = "email_list"
    id_prefix = "lst"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    is_smart: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The criteria JSON exactly as the API takes it (camelCase), smart lists only.
    criteria: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: The email topic the list is about: a campaign to it skips those who left the topic.
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic.id", ondelete="SET NULL"), index=True
    )

    #: sunset policy for campaigns to this list: ``default`` (the customer's state),
    #: ``include`` (send to sunset customers too) or ``custom`` (its own thresholds below)
    sunset_policy: Mapped[str] = mapped_column(
        String(10), default="default", server_default="default"
    )
    sunset_min_emails: Mapped[int | None] = mapped_column(Integer)
    sunset_days: Mapped[int | None] = mapped_column(Integer)

    owner: Mapped[User] = relationship(lazy="joined")


class EmailListMember(Model):
    """One customer on one list; the primary key makes (list, customer) unique."""

    __tablename__ = "email_list_member"

    list_id: Mapped[int] = mapped_column(
        ForeignKey("email_list.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
