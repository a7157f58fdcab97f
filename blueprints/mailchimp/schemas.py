"""Request and response shapes of /api/sales/marketing/mailchimp (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.api.spec import CamelModel, OutModel


class ConnectIn(CamelModel):
    api_key: str = Field(min_length=1, max_length=200)


class StatusOut(OutModel):
    connected: bool
    account_name: str | None = None
    data_center: str | None = None
    connected_at: str | None = None
    last_sync_at: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


class AudienceOut(OutModel):
    id: str
    name: str
    member_count: int


class SyncOut(OutModel):
    id: str
    list_id: str
    audience_id: str
    status: str
    progress_done: int
    progress_total: int
    last_error: str | None = None


class AudiencesOut(OutModel):
    items: list[AudienceOut]
    syncs: list[SyncOut] = Field(default_factory=list)


class SyncIn(CamelModel):
    list_id: str = Field(min_length=1, max_length=40)
    audience_id: str = Field(min_length=1, max_length=40)
    frequency_seconds: int | None = Field(default=None, ge=0, le=30 * 86400)


class ImportIn(CamelModel):
    audience_id: str = Field(min_length=1, max_length=40)
    list_id: str | None = Field(default=None, max_length=40)


class ImportOut(OutModel):
    audience_id: str
    customer_ids: list[str]
    matched: int
    unmatched: int
    list_id: str | None = None
    added: int | None = None
    unmatched_emails: list[str]


class CampaignIn(CamelModel):
    sync_id: str = Field(min_length=1, max_length=40)
    template_id: str = Field(min_length=1, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    send: bool = False
    send_at: datetime | None = None


class ScheduleIn(CamelModel):
    send_at: datetime


class CampaignOut(OutModel):
    id: str
    sync_id: str | None = None
    subject: str
    #: the subject with merge tags as readable placeholders ("Hello [Customer name]")
    subject_preview: str | None = None
    status: str
    report: dict[str, Any] = Field(default_factory=dict)


class CampaignsOut(OutModel):
    items: list[CampaignOut]
