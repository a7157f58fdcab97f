"""Campaigns on every channel: drafts, edits, schedules, sends and state changes.

Lifecycle: ``draft`` -> ``scheduled`` (a time to come) or ``preparing``/``sending``
(now) -> ``sent``; ``paused`` and ``cancelled`` on the way (``failed`` when the audience
vanished). A draft may be edited; a scheduled campaign may be edited or unscheduled
until it starts; any campaign may be duplicated. What is channel-specific (content,
rendering, engagement) is asked of the channel's :class:`CampaignChannel`; the sending
itself is the delivery engine's (:mod:`app.messaging.delivery`). Services raise the
core's domain errors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select

from app import jobs
from app.campaigns import registry, zones
from app.campaigns.registry import Content
from app.crm.models import CommunicationPreference
from app.engagement import sunset
from app.errors import Conflict, Invalid, NotFound
from app.experiments import campaigns as ab_tests
from app.experiments import holdout
from app.extensions import db
from app.messaging import audiences, delivery
from app.messaging.models import Campaign
from app.models_base import utcnow

PAST_TIME = "is in the past: give a time to come, or none to send now"
EDITABLE = ("draft", "scheduled")


def nobody_reachable(channel: str) -> str:
    support = registry.support(channel)
    if support is not None and support.unreachable:
        return support.unreachable
    return (
        f"nobody on this list can get {channel}: no member has an address for it that is "
        "not opted out or suppressed" + (" and opted in" if channel != "email" else "")
    )


@dataclass(frozen=True)
class Draft:
    """What a user gives for a campaign (create or edit): unset fields stay as they were
    on an edit."""

    channel: str | None = None
    list_id: str | None = None
    name: str | None = None
    content: Content | None = None
    scheduled_at: datetime | None = None
    send_local_time: bool | None = None
    #: email: send to sunset customers too (a re-permission campaign)
    include_sunset: bool | None = None
    #: the share of the audience held back to measure lift (0 to 50)
    holdout_percent: int | None = None
    ab_test: ab_tests.ABTestInput | None = None


# --- reading -------------------------------------------------------------------------


def visible(
    user: Any,
    channel: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    """Campaigns ``user`` may see (a rep: their own), newest first, filtered."""
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if channel:
        stmt = stmt.where(Campaign.channel == channel)
    if status:
        stmt = stmt.where(Campaign.status == status)
    if since:
        stmt = stmt.where(Campaign.created_at >= since)
    if until:
        stmt = stmt.where(Campaign.created_at < until)
    if not user.sees_all_territories:
        stmt = stmt.where(Campaign.created_by_id == user.id)
    return stmt


def get(public_id: str, user: Any, channel: str | None = None) -> Campaign:
    found: Campaign | None = db.session.scalar(
        visible(user, channel).where(Campaign.public_id == public_id)
    )
    if found is None:
        raise NotFound("Campaign not found")
    return found


# --- writing -------------------------------------------------------------------------


def _future(when: datetime | None, user: Any) -> datetime | None:
    """UTC, typed in the user's zone when it carries no offset; a past time is refused."""
    if when is None:
        return None
    when = zones.as_utc(when, zones.user_zone(user))
    if when <= utcnow():
        raise Invalid("scheduledAt is in the past", {"scheduledAt": PAST_TIME})
    return when


def _audience(channel: str, list_id: str, user: Any) -> tuple[Select[Any], str | None]:
    members = audiences.resolve("list", list_id, user, field="listId")
    if not delivery.has_reachable(channel, members):
        raise Invalid("nobody to send to", {"listId": nobody_reachable(channel)})
    resolver = audiences.resolvers().get("list")
    label = None
    if resolver is not None and resolver.describe is not None:
        label = resolver.describe(list_id, user)
    return members, label


def create(user: Any, draft: Draft) -> Campaign:
    """A new draft (nothing is sent): 422 naming the field for an unknown channel or
    list, a list nobody on it may get, unusable content or a time already past."""
    support = registry.require(draft.channel or "")
    if not draft.list_id:
        raise Invalid("listId is required", {"listId": "choose a list to send to"})
    scheduled_at = _future(draft.scheduled_at, user)
    holdout_percent = holdout.checked_percent(draft.holdout_percent) or 0
    columns = support.content(draft.content or Content())
    ab_test = ab_tests.settings_for(support, columns, draft.ab_test)
    _members, label = _audience(support.name, draft.list_id, user)
    campaign = Campaign(
        channel=support.name,
        name=(draft.name or support.default_name(columns))[:200],
        audience_type="list",
        audience_ref=draft.list_id,
        audience_name=label,
        status="draft",
        scheduled_at=scheduled_at,
        schedule_zone=zones.user_zone(user),
        send_local_time=bool(draft.send_local_time),
        include_sunset=bool(draft.include_sunset),
        holdout_percent=holdout_percent,
        created_by_id=user.id,
        ab_test=ab_test,
        **columns,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _editable(campaign: Campaign) -> None:
    if campaign.status not in EDITABLE:
        raise Conflict(
            f"a campaign that is {campaign.status} cannot be changed (duplicate it instead)",
            code="conflict",
        )


def update(campaign: Campaign, user: Any, draft: Draft) -> Campaign:
    """Edit a draft, or a scheduled campaign until it starts (409 after). A scheduled
    campaign keeps its (new) time; a past time is refused."""
    _editable(campaign)
    support = registry.require(campaign.channel)
    holdout_percent = holdout.checked_percent(draft.holdout_percent)
    if draft.channel and draft.channel != campaign.channel:
        raise Invalid("channel is fixed", {"channel": "a campaign's channel cannot change"})
    if draft.scheduled_at is not None:
        campaign.scheduled_at = _future(draft.scheduled_at, user)
        campaign.schedule_zone = zones.user_zone(user)
    if draft.list_id and draft.list_id != campaign.audience_ref:
        _members, campaign.audience_name = _audience(campaign.channel, draft.list_id, user)
        campaign.audience_ref = draft.list_id
    if draft.content is not None:
        for column, value in support.content(_merged(campaign, draft.content)).items():
            setattr(campaign, column, value)
    if draft.name:
        campaign.name = draft.name[:200]
    if draft.send_local_time is not None:
        campaign.send_local_time = draft.send_local_time
    if draft.include_sunset is not None:
        campaign.include_sunset = draft.include_sunset
    if holdout_percent is not None:
        campaign.holdout_percent = holdout_percent
    if draft.ab_test is not None:
        own = {"subject": campaign.subject, "html": campaign.html}
        campaign.ab_test = ab_tests.settings_for(support, own, draft.ab_test, campaign.ab_test)
    db.session.commit()
    if campaign.status == "scheduled":
        _enqueue_start(campaign)  # the earlier job sees the changed time and stands down
    return campaign


def _merged(campaign: Campaign, content: Content) -> Content:
    """An edit's content: a new template replaces the old one's text; text given
    replaces the stored text."""
    if content.template_id:
        return content
    stored = Content(subject=campaign.subject, html=campaign.html, body=campaign.body)
    given = {k: v for k, v in vars(content).items() if v is not None}
    return replace(stored, **given)


def duplicate(campaign: Campaign, user: Any) -> Campaign:
    """A new draft with the same list and message (no schedule)."""
    copy = Campaign(
        channel=campaign.channel,
        name=f"Copy of {campaign.name}"[:200],
        subject=campaign.subject,
        html=campaign.html,
        body=campaign.body,
        template_id=campaign.template_id,
        audience_type=campaign.audience_type,
        audience_ref=campaign.audience_ref,
        audience_name=campaign.audience_name,
        status="draft",
        schedule_zone=zones.user_zone(user),
        send_local_time=campaign.send_local_time,
        include_sunset=campaign.include_sunset,
        holdout_percent=campaign.holdout_percent,
        created_by_id=user.id,
        ab_test=campaign.ab_test,  # the test's settings, not its decision
    )
    db.session.add(copy)
    db.session.commit()
    return copy


def schedule(
    campaign: Campaign, user: Any, when: datetime | None, send_local_time: bool | None = None
) -> Campaign:
    """Schedule a draft (or move a scheduled one) to ``when``, or its stored time."""
    _editable(campaign)
    chosen = _future(when, user) if when is not None else campaign.scheduled_at
    if chosen is None:
        raise Invalid("scheduledAt is required", {"scheduledAt": "give a time to send at"})
    if chosen <= utcnow():
        raise Invalid("scheduledAt is in the past", {"scheduledAt": PAST_TIME})
    _audience(campaign.channel, campaign.audience_ref or "", user)
    if when is not None:
        campaign.schedule_zone = zones.user_zone(user)
    if send_local_time is not None:
        campaign.send_local_time = send_local_time
    campaign.scheduled_at = chosen
    campaign.status = "scheduled"
    db.session.commit()
    _enqueue_start(campaign)
    return campaign


def unschedule(campaign: Campaign) -> Campaign:
    """A scheduled campaign back to a draft (its time kept as the plan)."""
    if campaign.status != "scheduled":
        raise Conflict(f"only a scheduled campaign can be unscheduled (it is {campaign.status})")
    campaign.status = "draft"
    db.session.commit()
    return campaign


def send_now(campaign: Campaign, user: Any) -> Campaign:
    """Send a draft or scheduled campaign now: the work runs in the background (a job),
    never in the caller's request."""
    _editable(campaign)
    _audience(campaign.channel, campaign.audience_ref or "", user)
    campaign.scheduled_at = None
    campaign.send_local_time = False
    db.session.commit()
    delivery.launch(campaign)
    db.session.refresh(campaign)
    return campaign


def create_and_send(user: Any, draft: Draft) -> Campaign:
    """The channels' one-call send to a list (``POST .../email/send`` with ``listId``):
    a draft, then scheduled at its time or sent now, in the background."""
    campaign = create(user, draft)
    if campaign.scheduled_at is not None:
        return schedule(campaign, user, None)
    return send_now(campaign, user)


def change_state(campaign: Campaign, action: str) -> Campaign:
    """pause | resume | cancel where the delivery engine allows it (409 otherwise). A
    campaign paused before its time and resumed while that time is still to come is
    scheduled again here, so that unscheduling it later still stops it."""
    if action == "resume" and _resumes_to_a_future_time(campaign):
        campaign.status, campaign.last_error = "scheduled", None
        db.session.commit()
        _enqueue_start(campaign)
        return campaign
    try:
        delivery.set_campaign_state(campaign, action)
    except ValueError as exc:
        db.session.rollback()
        raise Conflict(str(exc)) from exc
    db.session.refresh(campaign)
    return campaign


def _resumes_to_a_future_time(campaign: Campaign) -> bool:
    if campaign.status != "paused" or campaign.scheduled_at is None:
        return False
    if campaign.scheduled_at <= utcnow():
        return False
    model = delivery.channel_for(campaign.channel).model
    prepared = db.session.scalar(select(model.id).where(model.campaign_id == campaign.id).limit(1))
    return prepared is None


def send_test(campaign: Campaign, user: Any) -> str:
    """The campaign's message, rendered for its first reachable recipient (a sample),
    sent to the user's own address. Returns that address."""
    from app.campaigns import review

    support = registry.require(campaign.channel)
    sample = review.sample_customers(campaign, user, limit=1)
    return support.send_test(campaign, sample[0] if sample else None, user)


# --- starting a scheduled campaign ----------------------------------------------------


def _stamp(campaign: Campaign) -> str:
    return campaign.scheduled_at.isoformat() if campaign.scheduled_at else ""


def _enqueue_start(campaign: Campaign) -> None:
    """Queue the start at the campaign's time (the earliest recipient's, when sent in
    each recipient's zone). The job carries the time it was queued for: after an edit
    or an unschedule, an older job finds another time or status and does nothing."""
    jobs.enqueue(
        start_scheduled, campaign.id, _stamp(campaign), queue="campaigns", at=first_start(campaign)
    )


def recipient_zones(campaign: Campaign) -> list[str]:
    """The distinct contact time zones known among the campaign's audience."""
    owner = _owner(campaign)
    members = audiences.resolve("list", campaign.audience_ref or "", owner)
    return [
        z
        for z in db.session.scalars(
            select(CommunicationPreference.timezone)
            .where(
                CommunicationPreference.customer_id.in_(members.scalar_subquery()),
                CommunicationPreference.timezone.is_not(None),
            )
            .distinct()
        )
        if z
    ]


def first_start(campaign: Campaign) -> datetime | None:
    """When the first recipient is due."""
    when = campaign.scheduled_at
    if when is None or not campaign.send_local_time:
        return when
    found = [
        zones.wall_clock_in(when, campaign.schedule_zone, z) for z in recipient_zones(campaign)
    ]
    return min([when.astimezone(UTC), *found])


def _owner(campaign: Campaign) -> Any:
    from app.auth.models import User

    return db.session.get(User, campaign.created_by_id) if campaign.created_by_id else None


def start_scheduled(campaign_id: int, stamp: str) -> None:
    """Job: start a scheduled campaign, unless it was unscheduled, paused, cancelled or
    moved to another time since this job was queued."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "scheduled" or _stamp(campaign) != stamp:
        return
    campaign.status = "preparing"
    db.session.commit()
    if campaign.send_local_time:
        _prepare_in_local_time(campaign)
    delivery.prepare_campaign(campaign_id)


def _prepare_in_local_time(campaign: Campaign) -> None:
    """Write the recipients' rows now, each due at the campaign's wall-clock time in its
    customer's zone (the schedule's zone when unknown); the engine sends each row when
    it is due. The engine then finds the rows written and only sends them."""
    from sqlalchemy import update as sql_update

    channel = delivery.channel_for(campaign.channel)
    model = channel.model
    try:
        members = sunset.campaign_audience(campaign, _owner(campaign))
    except Exception:  # noqa: BLE001 - the engine records why the audience is gone
        return
    if db.session.scalar(select(model.id).where(model.campaign_id == campaign.id).limit(1)):
        return  # written already (a retried job)
    assert campaign.scheduled_at is not None
    members = holdout.hold_back(campaign, members)  # to measure lift
    campaign.recipients_total = channel.materialize(campaign, members)
    for name in recipient_zones(campaign):
        due = zones.wall_clock_in(campaign.scheduled_at, campaign.schedule_zone, name)
        in_zone = select(CommunicationPreference.customer_id).where(
            CommunicationPreference.timezone == name
        )
        db.session.execute(
            sql_update(model)
            .where(model.campaign_id == campaign.id, model.customer_id.in_(in_zone))
            .values(next_attempt_at=due)
        )
    db.session.execute(
        sql_update(model)
        .where(model.campaign_id == campaign.id, model.next_attempt_at.is_(None))
        .values(next_attempt_at=campaign.scheduled_at)
    )
    db.session.commit()
