"""Holdout: a share of a campaign's audience held back, to measure what the campaign sold.

When a campaign with ``holdout_percent`` is prepared, each customer of its audience who
could have received it (an address, consent: the channel's contactable rule) is placed by
:func:`app.experiments.assignment.in_holdout` (a hash of campaign and customer: stable
however often the audience is read, and uniform). Those held back are recorded in
``campaign_holdout`` and get no message. After the send, the share of each group who
ordered within the attribution window (the campaign channel's longest touch window) is
compared: the treated group is every customer the campaign queued a message for (intent
to treat: a bounce or a later opt-out stays in it, as a held-back customer who would have
bounced stays in the holdout). The lift is the difference of the two order rates with a
95% credible interval; it is marked uncertain while the interval spans no difference or
the holdout has fewer than :data:`MIN_GROUP` customers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, Select, distinct, exists, func, insert, select
from sqlalchemy.orm import Mapped, aliased, mapped_column

from app.attribution.touches import sources
from app.crm.models import Customer, Order
from app.errors import Invalid
from app.experiments.assignment import in_holdout, lift
from app.extensions import Model, db
from app.messaging.models import Campaign
from app.models_base import UTCDateTime, utcnow

MAX_PERCENT = 50
#: below this many held back, a lift is shown as uncertain whatever its interval says
MIN_GROUP = 100
#: orders that count (as for revenue): not cancelled, not returned
UNCOUNTED_STATUSES = ("cancelled", "returned")
DEFAULT_WINDOW = timedelta(days=5)
CHUNK = 5_000


class CampaignHoldout(Model):
    """A customer held back from a campaign (sent nothing) to measure its lift."""

    __tablename__ = "campaign_holdout"
    __table_args__ = (Index("ix_campaign_holdout_customer", "customer_id"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def checked_percent(value: int | None) -> int | None:
    """A draft's ``holdoutPercent``: 0 to 50, or a 422 naming the field."""
    if value is None:
        return None
    if not 0 <= value <= MAX_PERCENT:
        raise Invalid(
            "Bad holdout", {"holdoutPercent": f"hold back 0 to {MAX_PERCENT}% of the audience"}
        )
    return value


def hold_back(campaign: Campaign, customer_ids: Select[Any]) -> Select[Any]:
    """The audience to send to: ``customer_ids`` without the customers held back, who are
    recorded first (once: a prepared campaign keeps its groups). Not committed."""
    if not campaign.holdout_percent:
        return customer_ids
    recorded = db.session.scalar(
        select(func.count()).where(CampaignHoldout.campaign_id == campaign.id)
    )
    if not recorded:
        _record(campaign, customer_ids)
    kept = aliased(Customer)
    held = exists().where(
        CampaignHoldout.campaign_id == campaign.id, CampaignHoldout.customer_id == kept.id
    )
    return select(kept.id).where(kept.id.in_(customer_ids.scalar_subquery()), ~held)


def _record(campaign: Campaign, customer_ids: Select[Any]) -> None:
    from app.messaging import consent

    share = campaign.holdout_percent / 100
    reachable = select(Customer.id).where(
        Customer.id.in_(customer_ids.scalar_subquery()),
        consent.contactable_clause(campaign.channel),
    )
    held: list[int] = []
    everyone = 0
    for part in db.session.execute(reachable.execution_options(yield_per=CHUNK)).partitions():
        everyone += len(part)
        held.extend(pk for (pk,) in part if in_holdout(campaign.id, pk, share))
    if len(held) == everyone:  # a tiny audience drawn whole: send to it, measure nothing
        return
    now = utcnow()
    for start in range(0, len(held), CHUNK):
        rows = [
            {"campaign_id": campaign.id, "customer_id": pk, "held_at": now}
            for pk in held[start : start + CHUNK]
        ]
        db.session.execute(insert(CampaignHoldout), rows)


def window(channel: str) -> timedelta:
    """How long after its start a campaign's orders are counted: the channel's longest
    attribution window (email: the 5-day click window by default)."""
    windows = [source.window() for source in sources() if source.channel == channel]
    return max(windows, default=DEFAULT_WINDOW)


def _buyers(customers: Any, start: datetime, end: datetime) -> tuple[int, int]:
    """(customers who ordered, their orders) among ``customers`` (a subquery of ids),
    ordered on days from ``start``'s to ``end``'s."""
    found = db.session.execute(
        select(func.count(distinct(Order.customer_id)), func.count()).where(
            Order.customer_id.in_(customers),
            Order.order_date >= start.date(),
            Order.order_date <= end.date(),
            Order.status.not_in(UNCOUNTED_STATUSES),
        )
    ).one()
    return int(found[0]), int(found[1])


def report(campaign: Campaign) -> dict[str, Any] | None:
    """The holdout's figures for the campaign's JSON and page (None: no holdout)."""
    if not campaign.holdout_percent:
        return None
    from app.messaging import delivery

    held = select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign.id)
    size = int(db.session.scalar(select(func.count()).select_from(held.subquery())) or 0)
    model = delivery.channel_for(campaign.channel).model
    treated = (
        select(model.customer_id)
        .where(
            model.campaign_id == campaign.id,
            model.customer_id.is_not(None),
            model.status != "suppressed",
        )
        .distinct()
    )
    treated_size = int(db.session.scalar(select(func.count()).select_from(treated.subquery())) or 0)
    out: dict[str, Any] = {
        "percent": campaign.holdout_percent,
        "size": size,
        "treatedSize": treated_size,
        "windowDays": window(campaign.channel).total_seconds() / 86400,
        "windowEnds": None,
        "complete": False,
        **dict.fromkeys(
            ("orders", "buyers", "rate", "treatedOrders", "treatedBuyers", "treatedRate"), None
        ),
        "lift": None,
        "interval": None,
    }
    if campaign.started_at is None or not size or not treated_size:
        out.update(uncertain=True, note="measured once the campaign has been sent")
        return out
    start = campaign.started_at
    end = start + window(campaign.channel)
    buyers, orders = _buyers(held.scalar_subquery(), start, end)
    treated_buyers, treated_orders = _buyers(treated.scalar_subquery(), start, end)
    measured = lift(treated_buyers, treated_size, buyers, size, seed=campaign.id)
    spans_zero = measured.low <= 0 <= measured.high
    uncertain = spans_zero or size < MIN_GROUP
    out.update(
        windowEnds=end.isoformat(),
        complete=utcnow() >= end,
        orders=orders,
        buyers=buyers,
        rate=round(measured.holdout_rate, 5),
        treatedOrders=treated_orders,
        treatedBuyers=treated_buyers,
        treatedRate=round(measured.treated_rate, 5),
        lift=round(measured.difference, 5),
        interval=[round(measured.low, 5), round(measured.high, 5)],
        uncertain=uncertain,
        note=_note(size, spans_zero, measured.difference),
    )
    return out


def _note(size: int, spans_zero: bool, difference: float) -> str:
    if size < MIN_GROUP:
        return f"only {size} held back (fewer than {MIN_GROUP}): too few to tell"
    if spans_zero:
        return "the interval includes no difference: no lift shown yet"
    return "the campaign raised the order rate" if difference > 0 else "the order rate fell"
