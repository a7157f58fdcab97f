"""Campaign recipients who left the campaign's topic, refused per batch like consent.

A list may be tied to an email topic (weekly specials, new arrivals...); a person who left
that topic on the preference page keeps every other email, but a campaign to a list about
it skips them, marked suppressed with the reason. Checked just before each batch is sent,
so leaving a topic mid-campaign stops the rest of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.messaging import audiences, topics
from app.messaging.models import Campaign


def topic_refusals(rows: Sequence[Any]) -> dict[int, str]:
    """``{row id: why}`` for the rows whose address left their campaign's topic."""
    by_campaign: dict[int, list[Any]] = {}
    for row in rows:
        if getattr(row, "campaign_id", None) and row.to_address:
            by_campaign.setdefault(row.campaign_id, []).append(row)
    if not by_campaign:
        return {}
    out: dict[int, str] = {}
    campaigns = db.session.execute(
        select(Campaign.id, Campaign.audience_type, Campaign.audience_ref).where(
            Campaign.id.in_(by_campaign)
        )
    ).all()
    for campaign_id, audience_type, reference in campaigns:
        topic_id = audiences.topic_of(audience_type or "", reference)
        if topic_id is None:
            continue
        batch = by_campaign[campaign_id]
        left = topics.addresses_that_left(topic_id, [r.to_address for r in batch])
        if not left:
            continue
        name = db.session.get(topics.Topic, topic_id)
        label = name.name if name is not None else "this topic"
        for row in batch:
            if row.to_address.strip().lower() in left:
                out[row.id] = f"{row.to_address} left the topic {label}"
    return out
