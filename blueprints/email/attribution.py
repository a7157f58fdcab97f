"""The email channel's touches for attribution and engagement (human clicks and opens),
and the count of emails a customer received (for the sunset rule)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from flask import Flask
from sqlalchemy import func, select

from app.attribution.touches import Touch, TouchSource, register
from app.engagement.score import register_received_counter
from app.extensions import db
from blueprints.email.models import EmailEvent, EmailMessage


def _human(kind: str):
    def touches(customer_ids: Collection[int], since: datetime, until: datetime) -> list[Touch]:
        rows = db.session.execute(
            select(
                EmailMessage.customer_id,
                EmailMessage.campaign_id,
                EmailMessage.public_id,
                EmailEvent.occurred_at,
            )
            .join(EmailMessage, EmailMessage.id == EmailEvent.message_id)
            .where(
                EmailMessage.customer_id.in_(customer_ids),
                EmailEvent.type == kind,
                EmailEvent.machine.is_(False),
                EmailEvent.occurred_at >= since,
                EmailEvent.occurred_at < until,
            )
        ).all()
        return [Touch(c, campaign, ref, at) for c, campaign, ref, at in rows if c is not None]

    return touches


def register_touches(app: Flask) -> None:
    register(app, TouchSource("email_click", "email", 5, _human("click"), rank=2))
    register(app, TouchSource("email_open", "email", 1, _human("open"), rank=1))
    register_received_counter(app, "email", emails_received)


def emails_received(customer_ids: Collection[int], since: datetime) -> dict[int, int]:
    """Per customer, emails sent to them since ``since`` (the sunset rule counts them)."""
    rows = db.session.execute(
        select(EmailMessage.customer_id, func.count())
        .where(
            EmailMessage.customer_id.in_(customer_ids),
            EmailMessage.sent_at >= since,
        )
        .group_by(EmailMessage.customer_id)
    ).all()
    return {customer_id: int(count) for customer_id, count in rows if customer_id is not None}
