"""Outbound webhook endpoints, one delivery per (event, endpoint), and each attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import UTCDateTime, utcnow


class OutboundEndpoint(PublicIdMixin, Model):
    """A URL of the host CRM's that hears about the events it subscribed to.

    ``secret`` holds the Standard Webhooks secret (``whsec_...``) encrypted at rest.
    ``failing_since`` is the start of the current run of failed attempts; an endpoint
    failing for OUTBOUND_WEBHOOK_DISABLE_HOURS is switched off with ``disabled_reason``.
    """

    __tablename__ = "outbound_endpoint"
    id_prefix = "whe"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class OutboundDelivery(PublicIdMixin, Model):
    """One event for one endpoint; its public id is the ``webhook-id`` header, the same
    on every attempt so the receiver can drop repeats."""

    __tablename__ = "outbound_delivery"
    __table_args__ = (
        Index("ix_outbound_delivery_due", "status", "next_attempt_at"),
        Index("ix_outbound_delivery_endpoint", "endpoint_id", "id"),
    )
    id_prefix = "msg"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("outbound_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: pending (waiting for an attempt), sending, succeeded, failed (gave up)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    endpoint: Mapped[OutboundEndpoint] = relationship()
    attempt_log: Mapped[list[OutboundAttempt]] = relationship(
        order_by="OutboundAttempt.id.desc()",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class OutboundAttempt(Model):
    """One HTTP request to an endpoint: what it answered and how long it took."""

    __tablename__ = "outbound_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_delivery.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    #: what started it: "auto" (first try and retries) or "resend" (a person)
    trigger: Mapped[str] = mapped_column(String(10), default="auto")
