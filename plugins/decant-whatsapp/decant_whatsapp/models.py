"""The channel's own tables (created by its own Alembic branch, ``whatsapp``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.ids import PublicIdMixin
from app.messaging.outbox import OutboxMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow


class WhatsAppTemplate(PublicIdMixin, TimestampMixin, db.Model):
    """A template Meta approved, known to Twilio by its ``ContentSid`` (HX...).

    ``variables`` maps Twilio's placeholders to Decant tokens, e.g.
    ``{"1": "{{ first_name }}"}``, rendered per customer into ``ContentVariables``;
    ``preview`` is the approved text as staff see it (the timeline shows it filled in).
    """

    __tablename__ = "whatsapp_template"
    id_prefix = "wat"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    content_sid: Mapped[str] = mapped_column(String(34), unique=True)
    variables: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    preview: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class WhatsAppConversation(db.Model):
    """One customer's WhatsApp number; ``last_inbound_at`` opens the 24-hour window."""

    __tablename__ = "whatsapp_conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    profile_name: Mapped[str | None] = mapped_column(String(200))
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WhatsAppMessage(PublicIdMixin, OutboxMixin, db.Model):
    """One WhatsApp message, in or out. Outbound rows go through the outbox; a template
    message carries ``content_sid`` (its variables are rendered at send time for a
    campaign), a free-text one ``body``. ``delivery_status`` follows Twilio's callbacks."""

    __tablename__ = "whatsapp_message"
    id_prefix = "wam"
    __table_args__ = (Index("ix_whatsapp_message_campaign_status", "campaign_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("whatsapp_conversation.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("whatsapp_template.id", ondelete="SET NULL")
    )
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(10), default="outbound")
    to_address: Mapped[str] = mapped_column(String(20))
    from_address: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str | None] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(34))
    content_variables: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WhatsAppCampaign(db.Model):
    """Which approved template a WhatsApp campaign (a core ``campaign`` row) sends."""

    __tablename__ = "whatsapp_campaign"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    template_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_template.id"))
