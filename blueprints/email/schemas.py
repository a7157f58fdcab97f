"""Request and response shapes of the email API (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.api.spec import CamelModel, OutModel

Scalar = str | int | float | bool | None


class SendIn(CamelModel):
    """Single: ``customerId`` + (``templateId`` | ``subject`` + ``html``), optionally ``to``
    (it must be the customer's own address: messages go nowhere else);
    bulk: ``listId`` + (``templateId`` | ``subject`` + ``html``). ``scheduledAt`` optional."""

    to: str | None = Field(default=None, max_length=254)
    customer_id: str | None = Field(default=None, max_length=40)
    list_id: str | None = Field(default=None, max_length=40)
    template_id: str | None = Field(default=None, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    personalization: dict[str, Scalar] | None = None
    scheduled_at: datetime | None = None
    name: str | None = Field(default=None, max_length=200)


class MessageOut(OutModel):
    id: str
    to: str
    status: str
    provider: str | None = None
    error: dict[str, Any] | None = None


class MessageDetailOut(MessageOut):
    customer_id: str | None = None
    campaign_id: str | None = None
    subject: str | None = None
    opens: int = 0
    clicks: int = 0
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    bounced_at: datetime | None = None
