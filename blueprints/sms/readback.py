"""Shapes of the SMS messages read-back (``GET /api/sales/marketing/sms/messages``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.api.pagination import PageQuery
from app.api.spec import OutModel
from app.crm.readback import ChangesQuery
from app.crm.schemas import ChangesPage
from app.messaging.readback import references
from blueprints.sms.models import SmsMessage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class MessageQuery(PageQuery, ChangesQuery):
    customer_id: str | None = Field(default=None, max_length=64)
    direction: Literal["outbound", "inbound"] | None = None
    status: str | None = Field(
        default=None, max_length=16, description="queued, sending, sent, failed, received..."
    )


class SmsRowOut(OutModel):
    id: str
    direction: str
    to: str
    from_: str | None = Field(default=None, alias="from")
    body: str | None
    media_urls: list[str]
    segments: int
    status: str
    delivery_status: str | None
    delivered_at: datetime | None
    read_at: datetime | None
    customer_id: str | None
    customer_external_id: str | None
    campaign_id: str | None
    provider_message_id: str | None
    error: dict[str, Any] | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SmsRowPage(ChangesPage):
    items: list[SmsRowOut]
    total: int
    page: int
    per_page: int


def messages_json(messages: list[SmsMessage]) -> list[dict[str, Any]]:
    """A page of texts with their customers' and campaigns' ids (two queries)."""
    customers, campaigns = references(messages)
    items = []
    for m in messages:
        customer = customers.get(m.customer_id, (None, None))  # type: ignore[arg-type]
        items.append(
            {
                "id": m.public_id,
                "direction": m.direction,
                "to": m.to_address,
                "from": m.from_address,
                "body": m.body,
                "mediaUrls": list(m.media_urls or []),
                "segments": m.segments or 0,
                "status": m.status,
                "deliveryStatus": m.delivery_status,
                "deliveredAt": _iso(m.delivered_at),
                "readAt": _iso(m.read_at),
                "customerId": customer[0],
                "customerExternalId": customer[1],
                "campaignId": campaigns.get(m.campaign_id, (None,))[0],  # type: ignore[arg-type]
                "providerMessageId": m.provider_message_id,
                "error": (
                    {"code": m.error_code, "message": m.error_message}
                    if m.error_code or m.error_message
                    else None
                ),
                "sentAt": _iso(m.sent_at),
                "createdAt": _iso(m.created_at),
                "updatedAt": _iso(m.updated_at),
            }
        )
    return items
