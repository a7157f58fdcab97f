"""Request and response shapes of the recurring campaigns API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel
from app.recurring.service import UNSET, Spec

_SPEC_FIELDS = {
    "name",
    "channel",
    "list_id",
    "template_id",
    "subject",
    "html",
    "body",
    "rule",
    "starts_at",
    "time_zone",
    "send_local_time",
    "featured",
}


class FeaturedIn(CamelModel):
    """Which wines fill ``{{ featured_wines }}``: the ``newest`` in the catalogue, those
    ``on_special`` (a special price below the regular one; best deal first), or one
    ``varietal``; ``count`` of them."""

    rule: Literal["newest", "on_special", "varietal"]
    count: int = Field(default=3, ge=1, le=12)
    varietal: str | None = Field(default=None, max_length=80)


class _RecurringFields(CamelModel):
    template_id: str | None = Field(default=None, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)
    send_local_time: bool = False
    featured: FeaturedIn | None = None

    def spec(self) -> Spec:
        given = self.model_dump(include=_SPEC_FIELDS, exclude_unset=True)
        if "featured" in given and self.featured is not None:
            given["featured"] = self.featured.model_dump()
        return Spec(**{k: given.get(k, UNSET) for k in _SPEC_FIELDS})


class RecurringIn(_RecurringFields):
    """A recurring campaign: ``rule`` is an iCalendar RRULE (``FREQ=WEEKLY;BYDAY=TU``,
    ``FREQ=MONTHLY;BYDAY=1MO``) read from ``startsAt`` (the first date and wall-clock time,
    e.g. ``2026-12-08T09:00``) in ``timeZone`` (default: yours): 09:00 stays 09:00 across
    daylight-saving changes. Each occurrence creates a campaign to ``listId`` (a smart
    list is evaluated when it starts) from ``templateId`` or ``subject``/``html``
    (email) or ``body`` (SMS). ``sendLocalTime``: at that wall-clock time in each
    recipient's own zone."""

    name: str = Field(min_length=1, max_length=200)
    channel: str = Field(max_length=16)
    list_id: str = Field(max_length=40)
    rule: str = Field(max_length=500)
    starts_at: datetime
    time_zone: str | None = Field(default=None, max_length=64)


class RecurringPatch(_RecurringFields):
    """Changes; a new rule, start or zone applies from the next occurrence to come."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    list_id: str | None = Field(default=None, max_length=40)
    rule: str | None = Field(default=None, max_length=500)
    starts_at: datetime | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    send_local_time: bool | None = None  # type: ignore[assignment]


class OccurrencePatch(CamelModel):
    """Skip one occurrence to come (``skipped``: true; false takes it back) or give it its
    own ``subject``, ``html`` or ``body`` (null or empty: back to the usual)."""

    skipped: bool | None = None
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)

    def content(self) -> dict[str, Any]:
        return self.model_dump(include={"subject", "html", "body"}, exclude_unset=True)


class OccurrenceOut(OutModel):
    occurs_at: str
    local_time: str
    state: str
    edited: bool
    subject: str | None = None
    html: str | None = None
    body: str | None = None
    note: str | None = None
    campaign_id: str | None = None
    campaign_status: str | None = None


class RecurringOut(OutModel):
    id: str
    name: str
    channel: str
    list_id: str
    template_id: str | None = None
    rule: str
    starts_at: str
    time_zone: str
    send_local_time: bool
    featured: dict[str, Any] | None = None
    status: str
    next_at: str | None = None
    occurrences: list[OccurrenceOut] | None = None
    history: list[OccurrenceOut] | None = None


class RecurringPage(OutModel):
    items: list[RecurringOut]
    total: int
    page: int
    per_page: int


class RecurringQuery(PageQuery):
    status: Literal["active", "paused"] | None = None
