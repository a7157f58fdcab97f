"""The email channel's touches for attribution and engagement (human clicks and opens),
and the count of emails a customer received (for the sunset rule)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import Select, func, literal, select

from app.attribution.touches import (
    CustomerIds,
    TouchGroup,
    TouchQuery,
    TouchRows,
    TouchSource,
    customer_in,
    register,
    register_group,
)
from app.engagement import segments, sunset
from app.engagement.score import register_received_counter
from app.extensions import db
from blueprints.email.models import EmailEvent, EmailMessage

#: the event types that are touches, and the touch kind of each
KINDS = {"click": "email_click", "open": "email_open"}


def _touch_columns() -> tuple[Any, ...]:
    return (
        EmailMessage.customer_id,
        EmailMessage.campaign_id,
        EmailMessage.public_id.label("message_ref"),
        EmailEvent.occurred_at.label("touched_at"),
        EmailMessage.to_address.label("address"),
    )


def _human(kind: str) -> TouchQuery:
    def query(
        customer_ids: CustomerIds, since: datetime | None, until: datetime | None
    ) -> TouchRows:
        stmt: TouchRows = (
            select(*_touch_columns())
            .join(EmailMessage, EmailMessage.id == EmailEvent.message_id)
            .where(
                customer_in(EmailMessage.customer_id, customer_ids),
                EmailEvent.type == kind,
                EmailEvent.machine.is_(False),
            )
        )
        if since is not None:
            stmt = stmt.where(EmailEvent.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(EmailEvent.occurred_at < until)
        if db.session.get_bind().dialect.name == "sqlite":
            # said of the events too: SQLite's planner otherwise walks every event of the
            # kind by the (campaign, type, time) index, a skip-scan over few campaigns
            # (13.9 s for 1,000 customers of a 20k book); PostgreSQL plans it well as is
            stmt = stmt.where(
                EmailEvent.message_id.in_(
                    select(EmailMessage.id).where(
                        customer_in(EmailMessage.customer_id, customer_ids)
                    )
                )
            )
        return stmt

    return query


def human_touches(customer_ids: CustomerIds) -> TouchRows:
    """Every human click and open of these customers' messages, with its kind: one pass
    over their events for attribution, which reads both kinds unbounded in time (without
    a time range the (campaign, type, time) index tempts no planner: SQLite goes from the
    customers' messages to their events, as this query is written)."""
    return (
        select(*_touch_columns(), (literal("email_") + EmailEvent.type).label("kind"))
        .select_from(EmailMessage)
        .join(EmailEvent, EmailEvent.message_id == EmailMessage.id)
        .where(
            customer_in(EmailMessage.customer_id, customer_ids),
            EmailEvent.type.in_(KINDS),
            EmailEvent.machine.is_(False),
        )
    )


def register_touches(app: Flask) -> None:
    register(app, TouchSource(KINDS["click"], "email", 5, _human("click"), rank=2))
    register(app, TouchSource(KINDS["open"], "email", 1, _human("open"), rank=1))
    register_group(app, TouchGroup(frozenset(KINDS.values()), human_touches))
    register_received_counter(app, "email", emails_received)
    sunset.register_received_query(app, emails_received_at_least)
    segments.register(
        app,
        "email",
        segments.SegmentQueries(clicked_campaign=human_clickers, human_opens=human_opens),
    )


def emails_received_at_least(since: datetime, at_least: int) -> Select[Any]:
    """Customer ids sent at least ``at_least`` emails since ``since`` (a list's own
    sunset thresholds)."""
    return (
        select(EmailMessage.customer_id)
        .where(EmailMessage.sent_at >= since, EmailMessage.customer_id.is_not(None))
        .group_by(EmailMessage.customer_id)
        .having(func.count() >= at_least)
    )


def human_clickers(campaign_id: int) -> Select[Any]:
    """Customer ids of the campaign's recipients who clicked as a person."""
    return select(EmailMessage.customer_id).where(
        EmailMessage.campaign_id == campaign_id,
        EmailMessage.first_human_click_at.is_not(None),
        EmailMessage.customer_id.is_not(None),
    )


def human_opens(since: datetime) -> Select[int | None, datetime | None]:
    """(customer id, first human open) of the messages a person opened since ``since``."""
    return select(
        EmailMessage.customer_id.label("customer_id"),
        EmailMessage.first_human_open_at.label("opened_at"),
    ).where(
        EmailMessage.first_human_open_at >= since,
        EmailMessage.customer_id.is_not(None),
    )


def emails_received(customer_ids: Collection[int], since: datetime) -> dict[int, int]:
    """Per customer, emails sent to them since ``since`` (the sunset rule counts them)."""
    rows = db.session.execute(
        select(EmailMessage.customer_id, func.count())
        .where(
            customer_in(EmailMessage.customer_id, customer_ids),
            EmailMessage.sent_at >= since,
        )
        .group_by(EmailMessage.customer_id)
    ).all()
    return {customer_id: int(count) for customer_id, count in rows if customer_id is not None}
