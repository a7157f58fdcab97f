"""Email messages (outbox rows) and their engagement events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.messaging.outbox import OutboxMixin
from app.models_base import UTCDateTime, utcnow
from blueprints.email.domains import consumer_mailbox_default


class EmailMessage(PublicIdMixin, OutboxMixin, Model):
    """One email to one address: a rep's single send or a campaign recipient.

    Campaign rows keep no rendered body (it is rendered from the campaign at send time,
    so a 100k campaign stays small), nor do a flow's (rendered from their template; the
    subject is stored when one goes); single sends keep what was sent.
    """

    __tablename__ = "email_message"
    id_prefix = "eml"
    public_id_length = 32
    __table_args__ = (
        Index("ix_email_message_campaign_status", "campaign_id", "status"),
        Index("ix_email_message_customer_flow_run", "customer_id", "flow_run_id"),
        Index("ix_email_message_updated_id", "updated_at", "id"),  # read-back
        Index("ix_email_message_sent_at", "sent_at"),  # the dashboard's period
        # SQLite also has ix_email_message_sent_day_figures on (date(sent_at), the columns
        # the dashboard counts) WHERE sent_at IS NOT NULL, made by migration 0049 alone:
        # declared here, autogenerate could not compare it on SQLite (an expression) and
        # would add it on PostgreSQL. tests/blueprints/email/test_dashboard_plan.py
        # checks the dashboard reads it.
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    #: the flow run that sent it (app/flows): a marketing message like a campaign's
    flow_run_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    #: the address is at a free mailbox provider (blueprints/email/domains.py)
    consumer_mailbox: Mapped[bool] = mapped_column(
        Boolean, default=consumer_mailbox_default, server_default=false()
    )
    subject: Mapped[str | None] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    personalization: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    click_count: Mapped[int] = mapped_column(Integer, default=0)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the part of the counts above made by people (app/messaging/machine_signals.py)
    human_open_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    human_click_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_human_open_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_human_click_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: a campaign A/B test's variant (its index); None: not yet assigned (waits for the winner)
    variant: Mapped[int | None] = mapped_column(SmallInteger)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    complained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: set by the database on insert and on every update (status, opens, clicks): read-back
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp(), onupdate=utcnow
    )


class EmailEvent(Model):
    """An engagement or delivery event, for stats and the campaign chart over time."""

    __tablename__ = "email_event"
    __table_args__ = (
        Index("ix_email_event_campaign_type_at", "campaign_id", "type", "occurred_at"),
        #: the few machine events, for the dashboard's "behind a security gateway" split
        Index(
            "ix_email_event_machine_message",
            "message_id",
            "machine_reason",
            postgresql_where=text("machine IS true"),
            sqlite_where=text("machine IS 1"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("email_message.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    url: Mapped[str | None] = mapped_column(String(2000))
    source: Mapped[str] = mapped_column(String(20), default="tracking")
    #: made by a machine (a proxy or a scanner), and the rule that said so
    machine: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    machine_reason: Mapped[str | None] = mapped_column(String(24))
    #: an open a click proved (none was seen yet); the real open, arriving later, takes
    #: its place (blueprints/email/counters.py)
    implied: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class EmailLink(Model):
    """The URL behind click link ``number`` of a campaign (every message of it) or of one
    message (a single send, or a campaign message rendered on its own), stored when the
    message is prepared so a click resolves against what was sent, whatever changes
    later (the template, the CSS inliner, the code numbering links)."""

    __tablename__ = "email_link"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_email_link_campaign_number"),
        UniqueConstraint("message_id", "number", name="uq_email_link_message_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_message.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
