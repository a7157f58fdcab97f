"""Email provider failover in the app: settings, the adapter, the breaker log, the report.

``EMAIL_PROVIDERS=sendgrid,ses`` makes the email channel send through
:class:`~providers.email.failover.FailoverEmailProvider`; a single provider
(``EMAIL_PROVIDER``, or one name in ``EMAIL_PROVIDERS``) is used as it is. Breaker
transitions are written to ``provider_breaker_event``; the campaign page and API show
them next to which provider sent how many of the campaign's messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import Integer, String, Text, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from app import jobs
from app.config import Setting
from app.extensions import Model, db
from app.messaging.models import Campaign
from app.models_base import UTCDateTime, utcnow
from blueprints.email.models import EmailMessage
from providers.email import PROVIDER_NAMES, EmailProvider, build_email_provider
from providers.email.failover import (
    BreakerEvent,
    Breakers,
    FailoverEmailProvider,
    MemoryStore,
    RedisStore,
    StateStore,
)

log = logging.getLogger(__name__)

SETTINGS = (
    Setting(
        "EMAIL_PROVIDERS",
        tuple,
        (),
        "Email providers in order of preference, comma-separated (sendgrid,ses): sending "
        "moves to the next while one's circuit breaker is open. Empty: EMAIL_PROVIDER alone.",
    ),
    Setting(
        "EMAIL_BREAKER_FAILURES",
        int,
        5,
        "Consecutive failed calls (5xx, timeouts, connection errors; not 429) that open a "
        "provider's circuit breaker.",
    ),
    Setting(
        "EMAIL_BREAKER_COOLDOWN",
        float,
        60.0,
        "Seconds an open breaker waits before one trial call (half-open) may close it.",
    ),
)


class ProviderBreakerEvent(Model):
    """A provider's circuit breaker opened, half-opened (trial call) or closed."""

    __tablename__ = "provider_breaker_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def member_names(config: Mapping[str, Any]) -> list[str]:
    """The configured providers, in order (``EMAIL_PROVIDERS``, else ``EMAIL_PROVIDER``)."""
    names = [str(n).strip().lower() for n in config.get("EMAIL_PROVIDERS") or () if str(n).strip()]
    return names or [str(config.get("EMAIL_PROVIDER") or "console")]


def check_providers(app: Flask) -> None:
    """Refuse to start with an unknown or repeated name in ``EMAIL_PROVIDERS``."""
    names = member_names(app.config)
    unknown = [n for n in names if n not in PROVIDER_NAMES]
    if unknown or len(set(names)) != len(names):
        raise RuntimeError(
            f"EMAIL_PROVIDERS={','.join(names)}: name each of {', '.join(PROVIDER_NAMES)} "
            f"at most once, in order of preference (unknown: {', '.join(unknown) or 'none'})"
        )


def build_provider(app: Flask, settings: Mapping[str, Any]) -> EmailProvider:
    """The adapter for the app's settings: a failover over several providers, else one."""
    names = member_names(app.config)
    if len(names) == 1:
        return build_email_provider(names[0], settings)
    redis = jobs.redis_connection(app)
    store: StateStore = RedisStore(redis) if redis is not None else MemoryStore()
    breakers = Breakers(
        store,
        threshold=int(app.config.get("EMAIL_BREAKER_FAILURES") or 5),
        cooldown=float(app.config.get("EMAIL_BREAKER_COOLDOWN") or 60.0),
        on_event=event_recorder(app),
    )
    return FailoverEmailProvider([build_email_provider(n, settings) for n in names], breakers)


def event_recorder(app: Flask) -> Callable[[BreakerEvent], None]:
    """Writes each breaker event in a transaction of its own (on a pooled connection, not
    the sending job's session): it may come from the thread that calls the provider."""

    def record(event: BreakerEvent) -> None:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(
                insert(ProviderBreakerEvent.__table__).values(
                    channel="email",
                    provider=event.provider[:16],
                    state=event.state,
                    reason=event.reason,
                    occurred_at=event.at,
                )
            )

    return record


# --- the campaign report -------------------------------------------------------------------


def provider_split(campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's messages each provider sent."""
    m = EmailMessage
    rows = db.session.execute(
        select(m.provider, func.count())
        .where(m.campaign_id == campaign.id, m.status == "sent")
        .group_by(m.provider)
        .order_by(func.count().desc(), m.provider)
    ).all()
    return {str(provider or "unknown"): int(n) for provider, n in rows}


def breaker_events(campaign: Campaign, limit: int = 50) -> list[dict[str, Any]]:
    """The email breakers' events while the campaign was sending (oldest first)."""
    start = campaign.started_at
    if start is None:
        return []
    e = ProviderBreakerEvent
    stmt = select(e).where(e.channel == "email", e.occurred_at >= start)
    if campaign.finished_at is not None:
        stmt = stmt.where(e.occurred_at <= campaign.finished_at)
    found = db.session.scalars(stmt.order_by(e.occurred_at, e.id).limit(limit))
    return [
        {
            "provider": event.provider,
            "state": event.state,
            "reason": event.reason,
            "at": event.occurred_at.isoformat(),
        }
        for event in found
    ]
