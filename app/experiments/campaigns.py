"""A/B tests on a campaign: the settings, the split of the test share, the decision job
and the release of the rest of the audience to the winner.

The whole audience is written at once by the channel (one row per recipient, addresses
deduplicated as for any campaign); :func:`split_audience` then gives the rows of the test
share their variant (:func:`assignment.variant_for`, stable per campaign and customer)
and leaves the others without one. The delivery engine claims only rows with a variant
(:func:`held_back`), so the rest waits; after ``waitMinutes`` :func:`decide_winner`
(a scheduled job) computes the decision with :mod:`.decision` and, in the same
transaction, gives every waiting row the winner. A row has one variant, set once: a
recipient never gets two variants, and the outbox claims send each row once.

A variant stores only what it changes (email: subject, HTML from its own text or
template, sender name; SMS: the body, its own or a template's; both: a send delay in
minutes); the rest is the campaign's own. What a channel's variants may change is its
:attr:`~app.campaigns.registry.CampaignChannel.ab_fields`; how a winner is measured, its
``ab_rates`` (email: human clicks and opens; SMS: replies, as SMS links are not tracked)
and revenue per recipient for every channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from app import jobs
from app.campaigns import registry
from app.campaigns.registry import CampaignChannel, Content
from app.errors import DomainError, Invalid
from app.experiments import assignment, decision
from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow

#: winnerBy -> the metric of :mod:`.decision`
WINNER_BY = {
    "humanClickRate": "click_rate",
    "humanOpenRate": "open_rate",
    "replyRate": "reply_rate",
    "revenuePerRecipient": "revenue",
}
DEFAULT_TEST_SHARE = 0.2
DEFAULT_WAIT_MINUTES = 240
DEFAULT_WINNER_BY = "humanClickRate"
MAX_WAIT_MINUTES = 7 * 24 * 60
MAX_DELAY_MINUTES = 7 * 24 * 60
NAMES = ("A", "B", "C", "D")
#: the statuses in which a due decision is still taken (its rows are then released)
DECIDABLE = ("sending", "paused", "sent")


@dataclass(frozen=True)
class VariantInput:
    """One variant as a user gives it: only what differs from the campaign."""

    name: str | None = None
    subject: str | None = None
    html: str | None = None
    template_id: str | None = None
    from_name: str | None = None
    send_delay_minutes: int | None = None
    body: str | None = None  # SMS


#: VariantInput attribute -> its API name (what ``ab_fields`` lists)
_API_NAMES = {
    "subject": "subject",
    "html": "html",
    "template_id": "templateId",
    "from_name": "fromName",
    "send_delay_minutes": "sendDelayMinutes",
    "body": "body",
}


@dataclass(frozen=True)
class ABTestInput:
    """A/B settings as given (create or edit): None leaves a setting as it was; an empty
    ``variants`` removes the test."""

    variants: Sequence[VariantInput] | None = None
    test_share: float | None = None
    wait_minutes: int | None = None
    winner_by: str | None = None
    fallback_variant: str | None = None

    def given(self) -> bool:
        return any(v is not None for v in vars(self).values())


# --- settings ------------------------------------------------------------------------


def supports(support: CampaignChannel) -> bool:
    """Whether the channel renders variants and measures them (email, SMS)."""
    return bool(support.ab_rates)


def default_winner_by(support: CampaignChannel) -> str:
    """The channel's first rate (email: human click rate; SMS: reply rate)."""
    return (
        DEFAULT_WINNER_BY if DEFAULT_WINNER_BY in support.ab_rates else next(iter(support.ab_rates))
    )


def winner_choices(support: CampaignChannel) -> list[str]:
    return [*support.ab_rates, "revenuePerRecipient"]


def settings_for(
    support: CampaignChannel,
    campaign: Mapping[str, Any],
    given: ABTestInput | None,
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The A/B settings to store (None: no test), checked; Invalid naming the field.
    ``campaign``: the campaign's own content columns (subject, html)."""
    if given is None or not given.given():
        return dict(stored) if stored else None
    if given.variants is not None and not given.variants:
        return None  # the test removed
    if not supports(support):
        raise Invalid(
            f"{support.label} campaigns have no A/B tests",
            {"variants": f"{support.label} campaigns cannot be A/B tested"},
        )
    base = dict(stored or {})
    if given.variants is None and not base.get("variants"):
        raise Invalid("variants are required", {"variants": "give 2 to 4 variants"})
    variants = (
        _variants(support, campaign, given.variants)
        if given.variants is not None
        else base["variants"]
    )
    names = [v["name"] for v in variants]
    share = _pick(given.test_share, base.get("testShare"), DEFAULT_TEST_SHARE)
    if not 0 < share <= 1:
        raise Invalid("testShare out of range", {"testShare": "a share above 0 and at most 1"})
    wait = _pick(given.wait_minutes, base.get("waitMinutes"), DEFAULT_WAIT_MINUTES)
    if not 1 <= wait <= MAX_WAIT_MINUTES:
        raise Invalid(
            "waitMinutes out of range",
            {"waitMinutes": f"between 1 and {MAX_WAIT_MINUTES} minutes (a week)"},
        )
    winner_by = _pick(given.winner_by, base.get("winnerBy"), default_winner_by(support))
    allowed = winner_choices(support)
    if winner_by not in allowed:
        raise Invalid("unknown winnerBy", {"winnerBy": f"one of {', '.join(allowed)}"})
    fallback = given.fallback_variant
    if fallback is None:  # the stored one while it still names a variant, else the first
        fallback = base.get("fallbackVariant") if base.get("fallbackVariant") in names else names[0]
    if fallback not in names:
        raise Invalid(
            "unknown fallbackVariant",
            {"fallbackVariant": f"one of the variants: {', '.join(names)}"},
        )
    return {
        "variants": variants,
        "testShare": float(share),
        "waitMinutes": int(wait),
        "winnerBy": winner_by,
        "fallbackVariant": fallback,
    }


def _pick(given: Any, stored: Any, default: Any) -> Any:
    return given if given is not None else (stored if stored is not None else default)


def _variants(
    support: CampaignChannel, campaign: Mapping[str, Any], given: Sequence[VariantInput]
) -> list[dict[str, Any]]:
    if not 2 <= len(given) <= len(NAMES):
        raise Invalid("2 to 4 variants", {"variants": "an A/B test has 2 to 4 variants"})
    out: list[dict[str, Any]] = []
    for index, variant in enumerate(given):
        name = (variant.name or "").strip() or NAMES[index]
        field = f"variants[{index}]"
        if len(name) > 40:
            raise Invalid("name too long", {f"{field}.name": "at most 40 characters"})
        if name in [v["name"] for v in out]:
            raise Invalid("duplicate name", {f"{field}.name": f"another variant is {name}"})
        out.append({"name": name, **_variant_content(support, campaign, variant, field)})
    return out


def _variant_content(
    support: CampaignChannel, campaign: Mapping[str, Any], variant: VariantInput, field: str
) -> dict[str, Any]:
    """What the variant changes, checked by the channel as the campaign's own content."""
    for attribute, api_name in _API_NAMES.items():
        if getattr(variant, attribute) not in (None, "") and api_name not in support.ab_fields:
            raise Invalid(
                f"a {support.label} variant cannot change {api_name}",
                {
                    f"{field}.{api_name}": f"a {support.label} variant changes only "
                    + ", ".join(support.ab_fields)
                },
            )
    delay = variant.send_delay_minutes or 0
    if not 0 <= delay <= MAX_DELAY_MINUTES:
        raise Invalid(
            "sendDelayMinutes out of range",
            {f"{field}.sendDelayMinutes": f"between 0 and {MAX_DELAY_MINUTES} minutes"},
        )
    if "body" in support.ab_fields:
        return {**_text_content(support, variant, field), "sendDelayMinutes": int(delay)}
    subject = (variant.subject or "").strip() or None
    html = variant.html or None
    content = Content(
        subject=subject or (None if variant.template_id else campaign.get("subject")),
        html=html or (None if variant.template_id else campaign.get("html")),
        template_id=variant.template_id or None,
    )
    columns = _checked(support, content, field)
    from_name = (variant.from_name or "").strip() or None
    if from_name is not None and (len(from_name) > 100 or any(c in from_name for c in "\r\n<>")):
        raise Invalid(
            "bad sender name",
            {f"{field}.fromName": "at most 100 characters, without line breaks or < >"},
        )
    changes_text = variant.template_id or subject
    return {
        "subject": columns.get("subject") if changes_text else None,
        "html": columns.get("html") if (variant.template_id or html) else None,
        "templateId": variant.template_id or None,
        "fromName": from_name,
        "sendDelayMinutes": int(delay),
    }


def _checked(support: CampaignChannel, content: Content, field: str) -> dict[str, Any]:
    """The channel's checks of a variant's content, their fields under the variant's."""
    try:
        return support.content(content)
    except DomainError as exc:  # some channels' checks still raise the older ApiError
        if exc.status != 422:
            raise
        raise Invalid(exc.message, {f"{field}.{k}": v for k, v in exc.fields.items()}) from exc


def _text_content(support: CampaignChannel, variant: VariantInput, field: str) -> dict[str, Any]:
    """A text channel's variant (SMS): its own body or template, checked by the channel
    (length, segments); neither: the campaign's own text."""
    body = (variant.body or "").strip() or None
    if body is not None or variant.template_id:
        _checked(support, Content(body=body, template_id=variant.template_id or None), field)
    return {
        "subject": None,
        "html": None,
        "body": body,
        "templateId": variant.template_id or None,
        "fromName": None,
    }


def variant_text(
    settings: Mapping[str, Any] | None, index: int | None
) -> tuple[str | None, str | None]:
    """A text channel's variant ``index``: (its own body, its template's public id), both
    None where it keeps the campaign's text."""
    if not settings or index is None or not 0 <= index < len(settings["variants"]):
        return None, None
    variant = settings["variants"][index]
    return variant.get("body"), variant.get("templateId")


def variant_message(
    settings: Mapping[str, Any] | None, index: int | None, subject: str, html: str
) -> tuple[str, str, str | None]:
    """The subject, HTML and sender name a row of variant ``index`` gets (the campaign's
    own where the variant changes nothing)."""
    if not settings or index is None or not 0 <= index < len(settings["variants"]):
        return subject, html, None
    variant = settings["variants"][index]
    return variant["subject"] or subject, variant["html"] or html, variant["fromName"]


# --- sending -------------------------------------------------------------------------


def held_back(campaign: Campaign, model: type[Any]) -> list[Any]:
    """Claim conditions: an A/B campaign sends only rows with a variant (the rest wait
    for the winner)."""
    return [model.variant.is_not(None)] if campaign.ab_test else []


def split_audience(campaign: Campaign, model: type[Any]) -> None:
    """Give the test share of the written rows their variant (each variant's send delay
    on its due time) and schedule the decision; once per campaign."""
    settings = campaign.ab_test
    if not settings or campaign.ab_decide_at is not None:
        return
    variants = settings["variants"]
    shares = [settings["testShare"] / len(variants)] * len(variants)
    now = utcnow()
    last_due = now
    params: list[dict[str, Any]] = []
    rows = db.session.execute(
        select(model.id, model.customer_id, model.next_attempt_at).where(
            model.campaign_id == campaign.id, model.status == "queued"
        )
    ).all()
    for row_id, customer_id, due in rows:
        index = assignment.variant_for(campaign.id, customer_id or -row_id, shares)
        if index is None:
            continue
        delay = variants[index]["sendDelayMinutes"]
        if delay:
            due = _aware(due or now) + timedelta(minutes=delay)
        last_due = max(last_due, _aware(due or now))
        params.append({"row": row_id, "v": index, "due": due})
    table = model.__table__
    if params:
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("row"))
            .values(variant=bindparam("v"), next_attempt_at=bindparam("due")),
            params,
        )
    campaign.ab_decide_at = last_due + timedelta(minutes=settings["waitMinutes"])
    db.session.commit()
    jobs.enqueue(decide_winner, campaign.id, queue="campaigns", at=campaign.ab_decide_at)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=utcnow().tzinfo)


# --- the decision ----------------------------------------------------------------------


def outcomes(campaign: Campaign) -> list[dict[str, Any]]:
    """Each variant's results so far (before the decision, the test's): recipients sent,
    human open and click rates, attributed orders' revenue per recipient (and, for the
    decision, the counts and each recipient's revenue under ``_`` keys)."""
    from app.attribution.models import ATTRIBUTED, OrderTouch
    from app.crm.models import Order
    from app.messaging import delivery

    settings = campaign.ab_test or {}
    support = registry.require(campaign.channel)
    model = delivery.channel_for(campaign.channel).model
    rate_columns = {name: getattr(model, column) for name, column in support.ab_rates.items()}
    counted = db.session.execute(
        select(
            model.variant,
            func.count(model.sent_at),
            *(func.count(column) for column in rate_columns.values()),
        )
        .where(model.campaign_id == campaign.id, model.variant.is_not(None))
        .group_by(model.variant)
    ).all()
    by_index = {row[0]: row[1:] for row in counted}
    revenue = db.session.execute(
        select(model.variant, func.sum(Order.total))
        .join(OrderTouch, OrderTouch.message_ref == model.public_id)
        .join(Order, Order.id == OrderTouch.order_id)
        .where(
            model.campaign_id == campaign.id,
            model.variant.is_not(None),
            OrderTouch.campaign_id == campaign.id,
            OrderTouch.role == ATTRIBUTED,
        )
        .group_by(model.variant, model.id)
    ).all()
    revenues: dict[int, list[float]] = {}
    for index, amount in revenue:
        revenues.setdefault(index, []).append(float(amount or 0))
    out = []
    for index, variant in enumerate(settings.get("variants", [])):
        sent, *hits = by_index.get(index, (0, *([0] * len(rate_columns))))
        own = revenues.get(index, [])
        row: dict[str, Any] = {"name": variant["name"], "recipients": int(sent)}
        for name, count in zip(rate_columns, hits, strict=True):
            row[name] = round(int(count) / sent, 4) if sent else 0.0
            row[f"_{name}"] = int(count)
        row["revenue"] = round(sum(own), 2)
        row["revenuePerRecipient"] = round(sum(own) / sent, 2) if sent else 0.0
        row["_revenues"] = own
        out.append(row)
    return out


def _shown(results: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if not k.startswith("_")}


def decide(campaign: Campaign, results: Sequence[Mapping[str, Any]]) -> decision.Decision:
    """The decision on the test's ``results`` (:func:`outcomes`; :func:`decision.decide`,
    seeded by the campaign so the figures are the same every time)."""
    settings = campaign.ab_test or {}
    winner_by = settings["winnerBy"]
    metric = WINNER_BY[winner_by]
    measured = [
        decision.Outcome(
            row["name"],
            row["recipients"],
            row.get(f"_{winner_by}", 0),
            row["_revenues"],
        )
        for row in results
    ]
    config = current_app.config
    return decision.decide(
        measured,
        metric,
        settings["fallbackVariant"],
        min_sample=int(config.get("AB_MIN_SAMPLE") or decision.MIN_SAMPLE),
        threshold=float(config.get("AB_THRESHOLD") or decision.THRESHOLD),
        seed=campaign.id,
    )


def decide_winner(campaign_id: int) -> None:
    """Job: decide the winner once the wait is over, store it, and give it to every row
    still waiting, in one transaction; then send them. A second run finds the decision
    stored (the guarded UPDATE) and does nothing."""
    from app.messaging import delivery

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.ab_test or campaign.ab_decision is not None:
        return
    if campaign.status not in DECIDABLE or campaign.ab_decide_at is None:
        return
    if _aware(campaign.ab_decide_at) > utcnow():
        return  # early (a job queued for an older time): the one at the time decides
    settings = campaign.ab_test
    results = outcomes(campaign)
    chosen = decide(campaign, results)
    names = [v["name"] for v in settings["variants"]]
    stored = {
        "winner": chosen.winner,
        "declared": chosen.declared,
        "reason": chosen.why,
        "decidedAt": utcnow().isoformat(),
        "winProbability": {k: round(v, 4) for k, v in chosen.win_probability.items()},
        # the test's results the decision was taken on (the rest then joins the winner)
        "results": {row["name"]: _shown(row) for row in results},
    }
    claimed = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.ab_decision.is_(None))
        .values(ab_decision=stored)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return
    model = delivery.channel_for(campaign.channel).model
    db.session.execute(
        update(model)
        .where(
            model.campaign_id == campaign_id,
            model.variant.is_(None),
            model.status == "queued",
        )
        .values(variant=names.index(chosen.winner))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(campaign)
    if campaign.status == "sending":
        delivery.start_sending(campaign_id)


def overdue(grace: timedelta) -> list[int]:
    """Campaigns whose decision is more than ``grace`` late (its job lost): for the
    watchdog to queue again."""
    cutoff = utcnow() - grace
    return list(
        db.session.scalars(
            select(Campaign.id).where(
                Campaign.status.in_(DECIDABLE),
                Campaign.ab_decide_at.is_not(None),
                Campaign.ab_decide_at < cutoff,
                Campaign.ab_decision.is_(None),
            )
        )
    )


# --- reading -------------------------------------------------------------------------


def _rates(channel: str) -> list[str]:
    support = registry.support(channel)
    return list(support.ab_rates) if support is not None else []


def ab_json(campaign: Campaign, *, detail: bool = False) -> dict[str, Any] | None:
    """The campaign JSON's ``abTest``: settings, variants (with their results and
    ``winProbability`` on the detail view) and the decision (None until taken)."""
    settings = campaign.ab_test
    if not settings:
        return None
    made = campaign.ab_decision
    probabilities = (made or {}).get("winProbability", {})
    variants = [
        {**variant, "winProbability": probabilities.get(variant["name"])}
        for variant in settings["variants"]
    ]
    if made:  # the test's results the decision was taken on
        for variant in variants:
            variant["results"] = made["results"].get(variant["name"])
    elif detail and campaign.ab_decide_at is not None:  # the test so far
        for variant, results in zip(variants, outcomes(campaign), strict=True):
            variant["results"] = _shown(results)
    decide_at = campaign.ab_decide_at
    return {
        "variants": variants,
        "testShare": settings["testShare"],
        "waitMinutes": settings["waitMinutes"],
        "winnerBy": settings["winnerBy"],
        "fallbackVariant": settings["fallbackVariant"],
        # the rates each variant's results carry (the channel's: email opens and clicks,
        # SMS replies)
        "rates": list(_rates(campaign.channel)),
        "decideAt": _aware(decide_at).isoformat() if decide_at else None,
        "decision": made,
    }
