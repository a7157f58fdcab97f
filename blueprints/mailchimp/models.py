"""The Mailchimp connection (secret encrypted at rest), list syncs and campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model
from app.ids import PublicIdMixin
from app.models_base import UTCDateTime, utcnow


class MailchimpConnection(Model):
    """The team's one Mailchimp account: an API key or an OAuth token, Fernet-encrypted."""

    __tablename__ = "mailchimp_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    auth_type: Mapped[str] = mapped_column(String(8))  # api_key | oauth
    secret_encrypted: Mapped[str] = mapped_column(Text)
    data_center: Mapped[str] = mapped_column(String(12))
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_name: Mapped[str | None] = mapped_column(String(200))
    webhook_secret: Mapped[str] = mapped_column(String(64))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class MailchimpSync(PublicIdMixin, Model):
    """A CRM list kept in step with a Mailchimp audience.

    ``list_ref`` is the lists channel's public id (a string, not a foreign key: channels
    do not depend on each other's tables). ``cursor`` is the last customer id pushed, so
    an interrupted sync resumes where it stopped.
    """

    __tablename__ = "mailchimp_sync"
    id_prefix = "mcs"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_ref: Mapped[str] = mapped_column(String(40), index=True)
    audience_id: Mapped[str] = mapped_column(String(40))
    audience_name: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(8), default="push")  # push | pull
    frequency_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="idle")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_id: Mapped[str | None] = mapped_column(String(64))
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when the run last showed life (queued, started, pushed a batch): a "running" sync
    #: silent for MAILCHIMP_SYNC_STALE_SECONDS lost its worker and is resumed
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MailchimpCampaign(PublicIdMixin, Model):
    __tablename__ = "mailchimp_campaign"
    id_prefix = "mcc"

    id: Mapped[int] = mapped_column(primary_key=True)
    sync_id: Mapped[int] = mapped_column(ForeignKey("mailchimp_sync.id", ondelete="CASCADE"))
    remote_id: Mapped[str | None] = mapped_column(String(40), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("template.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MailchimpImport(PublicIdMixin, Model):
    """An audience's subscribed members matched to customers by email and added to a CRM
    list, run as a job; the page shows its progress and result."""

    __tablename__ = "mailchimp_import"
    id_prefix = "mci"

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[str] = mapped_column(String(40))
    audience_name: Mapped[str | None] = mapped_column(String(200))
    list_ref: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="queued")  # running | done | error
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    #: the first unmatched addresses, to show
    unmatched_sample: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MailchimpUnlinkedMember(Model):
    """A member a Mailchimp admin deleted from an audience (``unsubscribe`` webhook with
    ``action=delete``): not an opt-out, but the push sync no longer re-adds the address
    to that audience. A later ``subscribe`` webhook for it links it again."""

    __tablename__ = "mailchimp_unlinked_member"
    __table_args__ = (UniqueConstraint("audience_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    unlinked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
