"""The engagement score of each address a customer was reached at (see
:mod:`app.engagement.contacts`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.models_base import UTCDateTime


class ContactEngagement(Model):
    """One address (an email address, a phone number) of a customer on one channel, with
    the score of the human touches of messages to it. Rows are rebuilt with the customer's
    own score; an address with no human touch in the look-back has none."""

    __tablename__ = "contact_engagement"
    __table_args__ = (
        UniqueConstraint("customer_id", "channel", "address", name="uq_contact_engagement_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254))
    score: Mapped[int] = mapped_column(Integer)
    last_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
