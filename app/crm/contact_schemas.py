"""Request and response shapes of a customer's consent and contact preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.api.spec import CamelModel, OutModel


class ConsentIn(CamelModel):
    """A consent (or opt-out) staff record for the customer's own address on a channel,
    with its evidence."""

    channel: str = Field(min_length=1, max_length=16)
    status: Literal["opted_in", "opted_out"]
    method: str | None = Field(default=None, max_length=40)
    wording: str | None = Field(default=None, max_length=2000)
    evidence: str | None = Field(default=None, max_length=2000)
    obtained_at: datetime | None = None


class ContactWindowIn(CamelModel):
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)


class ContactPreferencesIn(CamelModel):
    contact_window: ContactWindowIn | None = None
    timezone: str | None = Field(default=None, max_length=64)


class ContactOut(OutModel):
    customer_id: str
    channels: dict[str, Any]
    contact_window: dict[str, str] | None
    timezone: str | None
    history: list[dict[str, Any]] | None = None
