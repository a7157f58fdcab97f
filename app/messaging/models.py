"""Tables every channel shares: message templates and the suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime, utcnow

TEMPLATE_TYPES = ("email", "sms")
SUPPRESSION_REASONS = ("unsubscribe", "bounce", "complaint", "STOP", "manual")


class Template(PublicIdMixin, TimestampMixin, Model):
    """An email (subject + sanitised HTML) or SMS (body) template with {{tokens}}."""

    __tablename__ = "template"
    id_prefix = "tpl"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: "mjml": ``mjml_source`` is what people edit and ``html`` is compiled from it
    format: Mapped[str] = mapped_column(String(8), default="html", server_default="html")
    mjml_source: Mapped[str | None] = mapped_column(Text)


class Suppression(Model):
    """An address no message may go to on a channel, with why and since when."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(254), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


CAMPAIGN_STATUSES = (
    "draft",
    "scheduled",
    "preparing",
    "sending",
    "paused",
    "sent",
    "cancelled",
    "failed",
)


class Campaign(PublicIdMixin, TimestampMixin, Model):
    """A bulk send to an audience on one channel; its recipients are outbox rows."""

    __tablename__ = "campaign"
    id_prefix = "cmp"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    audience_type: Mapped[str] = mapped_column(String(20), default="list")
    audience_ref: Mapped[str | None] = mapped_column(String(40))
    audience_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="draft", index=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the zone ``scheduled_at`` was chosen in; with ``send_local_time`` each recipient
    #: whose zone is known gets it at that wall-clock time in their own zone
    schedule_zone: Mapped[str | None] = mapped_column(String(64))
    send_local_time: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recipients_total: Mapped[int] = mapped_column(default=0)
    #: email: send to sunset customers too (a re-permission campaign); off by default
    include_sunset: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: sunset customers left out when the audience was materialised (None: not yet)
    sunset_skipped: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: the share of the audience held back to measure lift (app.experiments.holdout)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    #: an A/B test (app/experiments/campaigns.py): its variants and settings, when the
    #: winner is decided, and the decision (None until then)
    ab_test: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    ab_decide_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ab_decision: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
