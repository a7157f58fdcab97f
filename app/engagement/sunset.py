"""Who an email campaign skips as sunset, and how many it skipped.

A customer is sunset when :mod:`app.engagement.score` says so (``SUNSET_MIN_EMAILS``
emails in ``SUNSET_DAYS`` days with no human touch and no order). Email campaigns leave
them out unless the campaign opts in (``include_sunset``: a re-permission campaign). A
list may override the policy (:class:`SunsetPolicy`, read through the audience
resolver's ``sunset_policy_of``): ``include`` sends to sunset customers always,
``custom`` applies its own thresholds to the stored last engagement and the emails each
customer received (counted by the email channel's registered query). SMS and other
channels are not sunset: the rule counts emails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_, select
from sqlalchemy.orm import aliased

from app.crm.models import Customer
from app.engagement.score import SUNSET
from app.extensions import db
from app.messaging import audiences, consent
from app.messaging.models import Campaign
from app.models_base import utcnow

DEFAULT, INCLUDE, CUSTOM = "default", "include", "custom"
POLICIES = (DEFAULT, INCLUDE, CUSTOM)
#: (since, at least) -> SELECT of the customer ids sent at least that many emails since then
ReceivedQuery = Callable[[datetime, int], Select[Any]]


@dataclass(frozen=True)
class SunsetPolicy:
    """How a list treats sunset customers (``default``: their stored state)."""

    mode: str = DEFAULT
    min_emails: int | None = None
    days: int | None = None


def register_received_query(app: Flask, query: ReceivedQuery) -> None:
    """The email channel's set-based count of emails received (custom list policies)."""
    app.extensions["decant_sunset_received_query"] = query


def sunset_clause(
    policy: SunsetPolicy, customer: Any = Customer, now: datetime | None = None
) -> ColumnElement[bool] | None:
    """A two-valued predicate over ``customer`` (the model or an alias): sunset under
    ``policy``; None when the policy sends to everyone."""
    if policy.mode == INCLUDE:
        return None
    if policy.mode != CUSTOM or not policy.min_emails or not policy.days:
        is_sunset: ColumnElement[bool] = customer.engagement_state == SUNSET
        return is_sunset
    since = (now or utcnow()) - timedelta(days=policy.days)
    received: ReceivedQuery | None = current_app.extensions.get("decant_sunset_received_query")
    if received is None:
        return false()
    quiet = or_(customer.last_engaged_at.is_(None), customer.last_engaged_at < since)
    return and_(quiet, customer.id.in_(received(since, policy.min_emails).scalar_subquery()))


def policy_for(campaign: Campaign) -> SunsetPolicy:
    """The campaign's own choice first, then its list's; only email is sunset."""
    if campaign.channel != "email" or campaign.include_sunset:
        return SunsetPolicy(INCLUDE)
    return list_policy(campaign.audience_type, campaign.audience_ref)


def list_policy(audience_type: str | None, reference: str | None) -> SunsetPolicy:
    resolver = audiences.resolvers().get(audience_type or "")
    if resolver is None or resolver.sunset_policy_of is None or not reference:
        return SunsetPolicy()
    found: SunsetPolicy | None = resolver.sunset_policy_of(reference)
    return found or SunsetPolicy()


def skip_sunset(campaign: Campaign, customer_ids: Select[Any]) -> Select[Any]:
    """The audience without the customers the campaign's policy calls sunset."""
    kept = aliased(Customer)
    sunset = sunset_clause(policy_for(campaign), kept)
    if sunset is None:
        return customer_ids
    return select(kept.id).where(kept.id.in_(customer_ids.scalar_subquery()), not_(sunset))


def count_skipped(campaign: Campaign, customer_ids: Select[Any]) -> int:
    """How many of the audience the policy leaves out who could otherwise get the email."""
    sunset = sunset_clause(policy_for(campaign))
    if sunset is None:
        return 0
    found = db.session.scalar(
        select(func.count()).where(
            Customer.id.in_(customer_ids.scalar_subquery()),
            sunset,
            Customer.email.is_not(None),
            consent.contactable_clause("email"),
        )
    )
    return int(found or 0)


def campaign_audience(campaign: Campaign, owner: Any) -> Select[Any]:
    """The customer ids a campaign is materialised for: its list, less the sunset ones
    its policy skips (their number is kept on the campaign for its report). Raises what
    :func:`app.messaging.audiences.resolve` raises."""
    members = audiences.resolve(campaign.audience_type, campaign.audience_ref or "", owner)
    campaign.sunset_skipped = count_skipped(campaign, members)
    return skip_sunset(campaign, members)
