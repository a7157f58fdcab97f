"""The review before a send: who gets it (and who not, and why), what they get, when,
through which provider, and how long it will take."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, not_, select

from app.campaigns import registry
from app.crm.models import Consent, Customer
from app.engagement import sunset
from app.extensions import db
from app.messaging import audiences, consent, delivery
from app.messaging.models import Campaign, Suppression


def audience_breakdown(channel: str, customer_ids: Any, sunset: Any = None) -> dict[str, int]:
    """How many of the audience may get ``channel`` now, and how many are left out by
    reason (no address, suppressed, opted out, no opt-in, sunset, a shared address), in
    one query over the audience. ``sunset``: a predicate over ``customer`` for those the
    campaign skips as sunset (None: nobody), counted among the otherwise reachable."""
    rule = consent.policy(channel)
    column = rule.address_column
    address = func.lower(column) if channel == "email" else column
    suppressed = (
        select(func.count())
        .where(Suppression.channel == channel, Suppression.address == address)
        .scalar_subquery()
        > 0
    )
    state = (
        select(Consent.status)
        .where(Consent.channel == channel, Consent.address == address)
        .scalar_subquery()
    )
    opted_out = func.coalesce(state, consent.UNKNOWN) == consent.OPTED_OUT
    no_opt_in = func.coalesce(state, consent.UNKNOWN) != consent.OPTED_IN
    contactable = consent.contactable_clause(channel)
    skipped = sunset if sunset is not None else false()
    reachable = and_(contactable, not_(skipped))

    def count_when(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(),
            count_when(column.is_(None)),
            count_when(column.is_not(None) & suppressed),
            count_when(column.is_not(None) & ~suppressed & opted_out),
            count_when(
                column.is_not(None) & ~suppressed & ~opted_out & no_opt_in
                if rule.requires_opt_in
                else false()
            ),
            count_when(contactable & skipped),
            count_when(reachable),
            func.count(func.distinct(case((reachable, address)))),
        ).where(Customer.id.in_(customer_ids.scalar_subquery()))
    ).one()
    (
        total,
        no_address,
        n_suppressed,
        n_opted_out,
        n_no_opt_in,
        n_sunset,
        n_reachable,
        addresses,
    ) = (int(v or 0) for v in row)
    return {
        "total": total,
        "recipients": addresses,
        "excluded": total - addresses,
        "noAddress": no_address,
        "suppressed": n_suppressed,
        "optedOut": n_opted_out,
        "noOptIn": n_no_opt_in,
        "sunset": n_sunset,
        "sharedAddress": n_reachable - addresses,
    }


def _members(campaign: Campaign, user: Any) -> Any:
    return audiences.resolve("list", campaign.audience_ref or "", user)


def sample_customers(campaign: Campaign, user: Any, limit: int = 50) -> list[Customer]:
    """Reachable customers of the audience, by name (the preview's picker)."""
    members = sunset.skip_sunset(campaign, _members(campaign, user))
    stmt = (
        select(Customer)
        .where(
            Customer.id.in_(members.scalar_subquery()),
            consent.contactable_clause(campaign.channel),
        )
        .order_by(Customer.name, Customer.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def throughput(channel: str) -> dict[str, Any]:
    """The provider a channel sends through and its rate (messages per second)."""
    engine = delivery.channel_for(channel)
    provider = engine.provider()
    rate = engine.rate_limit(provider)
    per_second = rate.limit / rate.window if rate.window else float(rate.limit)
    if not rate.per_message:  # one slot per request: a request carries a batch
        per_second *= max(1, engine.batch_size(provider))
    return {
        "provider": getattr(provider, "name", channel),
        "rate": f"{rate.limit} per {rate.window:g} s" + ("" if rate.per_message else " requests"),
        "perSecond": per_second,
    }


def estimate(recipients: int, per_second: float) -> timedelta:
    return timedelta(seconds=round(recipients / per_second)) if per_second else timedelta(0)


def describe_duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"about {minutes / 60:.1f} hours"


def review(campaign: Campaign, user: Any, customer: Customer | None = None) -> dict[str, Any]:
    """Everything the review page shows, as data (the page and tests read the same)."""
    breakdown = audience_breakdown(
        campaign.channel,
        _members(campaign, user),
        sunset.sunset_clause(sunset.policy_for(campaign)),
    )
    speed = throughput(campaign.channel)
    support = registry.require(campaign.channel)
    samples = sample_customers(campaign, user)
    chosen = customer or (samples[0] if samples else None)
    return {
        "audience": breakdown,
        "samples": samples,
        "customer": chosen,
        "preview": support.preview(campaign, chosen) if chosen is not None else None,
        "sender": support.sender(),
        **speed,
        "duration": describe_duration(estimate(breakdown["recipients"], speed["perSecond"])),
    }
