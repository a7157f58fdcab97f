"""Request and response shapes of the campaigns API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel
from app.campaigns.registry import Content
from app.campaigns.service import Draft
from app.experiments import campaigns as ab_tests
from app.messaging.outbox import STATUSES

CampaignStatus = Literal[
    "draft", "scheduled", "preparing", "sending", "paused", "sent", "cancelled", "failed"
]
RecipientStatus = Literal[STATUSES]  # type: ignore[valid-type]
#: ``holdoutPercent``: the share of the audience held back (sent nothing) to measure lift
HoldoutPercent = Field(default=None, ge=0, le=50, strict=True)


class ContentFields(CamelModel):
    template_id: str | None = Field(default=None, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)

    def content(self) -> Content | None:
        given = self.model_dump(
            include={"template_id", "subject", "html", "body"}, exclude_unset=True
        )
        return Content(**given) if given else None


class VariantIn(CamelModel):
    """One A/B variant: only what it changes from the campaign (email: ``subject``,
    ``html`` or a ``templateId``, ``fromName``; SMS: ``body`` or a ``templateId``; both:
    ``sendDelayMinutes`` after the campaign's start); ``name`` defaults to A, B, C, D."""

    name: str | None = Field(default=None, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    template_id: str | None = Field(default=None, max_length=40)
    from_name: str | None = Field(default=None, max_length=100)
    send_delay_minutes: int | None = Field(default=None, ge=0, le=ab_tests.MAX_DELAY_MINUTES)
    body: str | None = Field(default=None, max_length=2000)

    def variant(self) -> ab_tests.VariantInput:
        return ab_tests.VariantInput(**self.model_dump())


class ABTestFields(CamelModel):
    """A/B settings of a draft: ``variants`` (2 to 4; an empty list on an edit removes
    the test), ``testShare`` of the audience split across them (default 0.2), the
    ``waitMinutes`` before the decision (default 240), ``winnerBy`` (email:
    humanClickRate, the default, or humanOpenRate; SMS: replyRate, the default; both:
    revenuePerRecipient) and the ``fallbackVariant`` sent when no winner is clear
    (default the first)."""

    variants: list[VariantIn] | None = Field(default=None, max_length=4)
    test_share: float | None = Field(default=None, gt=0, le=1)
    wait_minutes: int | None = Field(default=None, ge=1, le=ab_tests.MAX_WAIT_MINUTES)
    winner_by: (
        Literal["humanClickRate", "humanOpenRate", "replyRate", "revenuePerRecipient"] | None
    ) = None
    fallback_variant: str | None = Field(default=None, max_length=40)

    def ab_test(self) -> ab_tests.ABTestInput | None:
        given = ab_tests.ABTestInput(
            variants=[v.variant() for v in self.variants] if self.variants is not None else None,
            test_share=self.test_share,
            wait_minutes=self.wait_minutes,
            winner_by=self.winner_by,
            fallback_variant=self.fallback_variant,
        )
        return given if given.given() else None


class CampaignIn(ContentFields, ABTestFields):
    """A new draft: ``channel`` (email, sms...), ``listId``, a template or content
    (email: ``subject`` + ``html``; SMS: ``body``), optionally ``name`` and the planned
    ``scheduledAt`` (an ISO time; without an offset, in your time zone). Nothing is sent:
    ``/schedule`` or ``/send`` does that."""

    channel: str = Field(max_length=16)
    list_id: str = Field(max_length=40)
    name: str | None = Field(default=None, max_length=200)
    scheduled_at: datetime | None = None
    send_local_time: bool = False
    #: email: send to sunset customers too (skipped by default; a re-permission campaign)
    include_sunset: bool = False
    holdout_percent: int | None = HoldoutPercent

    def draft(self) -> Draft:
        return Draft(
            channel=self.channel,
            list_id=self.list_id,
            name=self.name,
            content=self.content(),
            scheduled_at=self.scheduled_at,
            send_local_time=self.send_local_time,
            include_sunset=self.include_sunset,
            holdout_percent=self.holdout_percent,
            ab_test=self.ab_test(),
        )


class CampaignPatch(ContentFields, ABTestFields):
    """Changes to a draft, or to a scheduled campaign until it starts (409 after)."""

    list_id: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    scheduled_at: datetime | None = None
    send_local_time: bool | None = None
    include_sunset: bool | None = None
    holdout_percent: int | None = HoldoutPercent

    def draft(self) -> Draft:
        return Draft(
            list_id=self.list_id,
            name=self.name,
            content=self.content(),
            scheduled_at=self.scheduled_at,
            send_local_time=self.send_local_time,
            include_sunset=self.include_sunset,
            holdout_percent=self.holdout_percent,
            ab_test=self.ab_test(),
        )


class ScheduleIn(CamelModel):
    """When to send (default: the draft's planned time); ``sendLocalTime``: at that
    wall-clock time in each recipient's own zone where it is known."""

    scheduled_at: datetime | None = None
    send_local_time: bool | None = None


class CampaignOut(OutModel):
    id: str
    channel: str
    name: str
    status: str
    counts: dict[str, int]
    actions: list[str]
    editable: bool
    stats: dict[str, Any] | None = None
    ab_test: dict[str, Any] | None = None


class CampaignPage(OutModel):
    items: list[CampaignOut]
    total: int
    page: int
    per_page: int


class CampaignQuery(PageQuery):
    channel: str | None = Field(default=None, max_length=16)
    status: CampaignStatus | None = None
    since: datetime | None = None
    until: datetime | None = None


class RecipientQuery(PageQuery):
    status: RecipientStatus | None = None
    engagement: (
        Literal["delivered", "opened", "clicked", "bounced", "complained", "unsubscribed"] | None
    ) = None


class RecipientOut(OutModel):
    id: str
    to: str
    status: str
    customer_id: str | None = None
    error: dict[str, Any] | None = None
    engagement: dict[str, str | None]


class RecipientPage(OutModel):
    items: list[RecipientOut]
    total: int
    page: int
    per_page: int


class LinkOut(OutModel):
    url: str
    clicks: int
    unique_clickers: int


class LinkList(OutModel):
    items: list[LinkOut]


class TestOut(OutModel):
    to: str


class ReviewQuery(CamelModel):
    customer_id: str | None = Field(default=None, max_length=40)


class ReviewOut(OutModel):
    audience: dict[str, int]
    preview: dict[str, Any] | None = None
    provider: str
    rate: str
    duration: str
