"""Shapes of the email messages read-back (``GET /api/sales/marketing/email/messages``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.api.pagination import PageQuery
from app.api.spec import OutModel
from app.crm.readback import ChangesQuery
from app.crm.schemas import ChangesPage
from app.messaging.readback import references
from blueprints.email.models import EmailMessage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class MessageQuery(PageQuery, ChangesQuery):
    customer_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(
        default=None, max_length=16, description="queued, sending, sent, failed, suppressed..."
    )


class EngagementOut(OutModel):
    opens: int
    clicks: int
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    first_clicked_at: datetime | None
    last_clicked_at: datetime | None
    delivered_at: datetime | None
    bounced_at: datetime | None
    complained_at: datetime | None
    unsubscribed_at: datetime | None


class MessageRowOut(OutModel):
    id: str
    to: str
    subject: str | None
    status: str
    customer_id: str | None
    customer_external_id: str | None
    campaign_id: str | None
    provider: str | None
    provider_message_id: str | None
    error: dict[str, Any] | None
    engagement: EngagementOut
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MessageRowPage(ChangesPage):
    items: list[MessageRowOut]
    total: int
    page: int
    per_page: int


def messages_json(messages: list[EmailMessage]) -> list[dict[str, Any]]:
    """A page of messages with their customers' and campaigns' ids (two queries)."""
    customers, campaigns = references(messages)
    items = []
    for m in messages:
        customer = customers.get(m.customer_id, (None, None))  # type: ignore[arg-type]
        items.append(
            {
                "id": m.public_id,
                "to": m.to_address,
                "subject": m.subject,
                "status": m.status,
                "customerId": customer[0],
                "customerExternalId": customer[1],
                "campaignId": campaigns.get(m.campaign_id, (None,))[0],  # type: ignore[arg-type]
                "provider": m.provider,
                "providerMessageId": m.provider_message_id,
                "error": (
                    {"code": m.error_code, "message": m.error_message}
                    if m.error_code or m.error_message
                    else None
                ),
                "engagement": {
                    "opens": m.open_count or 0,
                    "clicks": m.click_count or 0,
                    "firstOpenedAt": _iso(m.first_opened_at),
                    "lastOpenedAt": _iso(m.last_opened_at),
                    "firstClickedAt": _iso(m.first_clicked_at),
                    "lastClickedAt": _iso(m.last_clicked_at),
                    "deliveredAt": _iso(m.delivered_at),
                    "bouncedAt": _iso(m.bounced_at),
                    "complainedAt": _iso(m.complained_at),
                    "unsubscribedAt": _iso(m.unsubscribed_at),
                },
                "sentAt": _iso(m.sent_at),
                "createdAt": _iso(m.created_at),
                "updatedAt": _iso(m.updated_at),
            }
        )
    return items
