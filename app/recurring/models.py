"""A recurring campaign (a rule, a list, a message) and its occurrences.

Occurrences are computed from the rule; a row is stored only when one is edited, skipped,
or has come (its campaign created). ``UNIQUE (recurring_id, occurs_at)`` is what makes an
occurrence create exactly one campaign when two tickers run at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import TimestampMixin, UTCDateTime

STATUSES = ("active", "paused")
#: planned: to come (edited or skipped rows are stored early); created: its campaign
#: exists; skipped: by a person, or missed; failed: the campaign could not be created
OCCURRENCE_STATES = ("planned", "created", "skipped", "failed")


class RecurringCampaign(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "recurring_campaign"
    id_prefix = "rcp"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    #: the list's public id (smart lists are re-evaluated when each campaign starts)
    list_id: Mapped[str] = mapped_column(String(40))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    #: an iCalendar RRULE (``FREQ=WEEKLY;BYDAY=TU``) read in ``timezone`` from ``starts_at``
    rule: Mapped[str] = mapped_column(String(500))
    #: the first occurrence's wall-clock date and time in ``timezone`` (naive)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    timezone: Mapped[str] = mapped_column(String(64))
    send_local_time: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: the featured-wines rule ({"rule": "newest"|"on_special"|"varietal", "varietal",
    #: "count"}) filling ``{{ featured_wines }}``, or None
    featured: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)
    #: the next occurrence not handled yet (UTC): the ticker's cursor
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class RecurringOccurrence(PublicIdMixin, TimestampMixin, Model):
    __tablename__ = "recurring_occurrence"
    id_prefix = "occ"
    __table_args__ = (UniqueConstraint("recurring_id", "occurs_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recurring_id: Mapped[int] = mapped_column(
        ForeignKey("recurring_campaign.id", ondelete="CASCADE")
    )
    occurs_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(12), default="planned")
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), index=True
    )
    #: this occurrence's own subject and content (None: the recurring campaign's)
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    #: why it was skipped or failed
    note: Mapped[str | None] = mapped_column(String(500))
