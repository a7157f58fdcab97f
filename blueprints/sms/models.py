"""SMS conversations and messages (outbound rows go through the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.messaging.outbox import OutboxMixin
from app.models_base import UTCDateTime, utcnow


class SmsConversation(PublicIdMixin, Model):
    """A thread with one phone number (a customer's, or an unknown contact's)."""

    __tablename__ = "sms_conversation"
    id_prefix = "cnv"
    __table_args__ = (UniqueConstraint("phone", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    phone: Mapped[str] = mapped_column(String(20), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    #: The rep who answers this thread (the customer's rep when it starts).
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SmsMessage(PublicIdMixin, OutboxMixin, Model):
    """One text, in or out. Outbound rows move through the outbox states; inbound rows
    are ``received``. ``delivery_status`` follows Twilio's status callbacks."""

    __tablename__ = "sms_message"
    id_prefix = "sms"
    __table_args__ = (
        Index("ix_sms_message_campaign_status", "campaign_id", "status"),
        Index("ix_sms_message_customer_flow_run", "customer_id", "flow_run_id"),
        Index("ix_sms_message_conversation_created", "conversation_id", "created_at"),
        Index("ix_sms_message_updated_id", "updated_at", "id"),  # read-back
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("sms_conversation.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    #: the flow run that sent it (app/flows): a marketing message like a campaign's
    flow_run_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(10), default="outbound")
    to_address: Mapped[str] = mapped_column(String(20))
    from_address: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str | None] = mapped_column(Text)
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str | None] = mapped_column(String(8))
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a campaign A/B test's variant (its index); None: not yet assigned (waits for the winner)
    variant: Mapped[int | None] = mapped_column(SmallInteger)
    #: an outbound campaign text: when the customer first replied to it (not with an opt-out
    #: or help keyword), the SMS A/B test's reply rate (blueprints.sms.services.receive)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: An inbound text that mentions an opt-out word but is no keyword: "pending" until a
    #: person decides "opt_out" or "not_opt_out" (blueprints.sms.review).
    review: Mapped[str | None] = mapped_column(String(12))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: set by the database on insert and on every update (delivery, review): read-back
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp(), onupdate=utcnow
    )
