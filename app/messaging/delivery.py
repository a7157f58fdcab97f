"""The delivery engine: campaigns and single messages from outbox rows to a provider.

A channel registers a :class:`DeliveryChannel` (its message table and how to send a batch
of its rows); the engine does the rest, the same way for email and SMS:

* ``prepare_campaign`` writes one queued row per recipient with one INSERT ... SELECT from
  the audience (never loading it), marking rows of opted-out or suppressed customers
  ``suppressed`` on the way;
* ``send_campaign_batches`` claims provider-sized batches, re-checks consent at send time,
  waits for the provider's shared rate limit just before the call, sends, records each
  outcome, and keeps going for a bounded time before re-enqueueing itself, so a killed
  worker is resumed by the next job and a paused campaign stops between batches. One
  batch at a time: its outcomes are committed before the next is claimed, so a crash can
  repeat only the batch that was at the provider. A campaign runs
  ``CAMPAIGN_SEND_JOBS`` of these jobs at once on RQ workers (each claims its own
  batches: the claim takes a row once), one when jobs run in the app's process;
* ``send_single`` does the same for one message (a rep's email or text).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, and_, case, func, or_, select, true, update

from app import jobs
from app.current import app_object
from app.experiments import holdout
from app.extensions import db
from app.messaging import outbox
from app.messaging.models import Campaign
from app.messaging.ratelimit import SlidingWindowLimiter
from app.models_base import utcnow
from providers.errors import AccountError, PermanentError, ProviderError, TransientError

log = logging.getLogger(__name__)

#: A batch outcome per row: a provider message id (sent) or the error.
Outcome = str | None | ProviderError


@dataclass(frozen=True)
class RateLimit:
    key: str
    limit: int
    window: float
    per_message: bool = True  # else one slot per provider request (batch)


@dataclass
class DeliveryChannel:
    name: str
    model: type[Any]
    #: the provider adapter for the app's settings (cached by the channel as it likes)
    provider: Callable[[], Any]
    batch_size: Callable[[Any], int]
    rate_limit: Callable[[Any], RateLimit]
    #: send these claimed rows through the provider: one outcome per row, same order;
    #: raise TransientError to retry the whole batch
    send: Callable[[Any, Sequence[Any]], Sequence[Outcome]]
    #: INSERT ... SELECT queued rows for a campaign from a SELECT of customer ids
    materialize: Callable[[Campaign, Select[Any]], int]
    #: which of these rows may not be contacted now: {row id: reason}
    refusals: Callable[[Sequence[Any]], dict[int, str]]
    #: called after outcomes are recorded (activities, signals); before commit
    after_send: Callable[[Sequence[Any]], None] | None = None
    #: rows to hold back until a later time (quiet hours): {row id: when}
    hold_until: Callable[[Sequence[Any]], dict[int, datetime]] | None = None
    #: more columns to set on the rows marked sent (SQL expressions on the row, say),
    #: after after_send has run
    sent_values: Callable[[], dict[str, Any]] | None = None
    #: the columns the channel's hooks read of a claimed row (None: all of them)
    claim_columns: tuple[str, ...] | None = None
    #: seconds a row may stay in ``sending`` before it is presumed lost
    #: (None: the CAMPAIGN_STALE_SECONDS setting)
    stale_after: float | None = None


def stale_after(channel: DeliveryChannel | None = None) -> timedelta:
    """How long a row may sit in ``sending`` before its worker is presumed dead."""
    seconds = channel.stale_after if channel and channel.stale_after else None
    return timedelta(seconds=seconds or _seconds_setting("CAMPAIGN_STALE_SECONDS", 600))


def _seconds_setting(name: str, default: float) -> float:
    """A duration setting as a number (set from the environment it arrives as a string)."""
    return float(current_app.config.get(name) or default)


def register(app: Flask, channel: DeliveryChannel) -> None:
    app.extensions.setdefault("decant_delivery", {})[channel.name] = channel


def channel_for(name: str) -> DeliveryChannel:
    channels = current_app.extensions.get("decant_delivery", {})
    if name not in channels:
        raise LookupError(f"no delivery channel {name!r} is enabled")
    channel: DeliveryChannel = channels[name]
    return channel


def limiter() -> SlidingWindowLimiter:
    app = app_object()
    existing: SlidingWindowLimiter | None = app.extensions.get("decant_limiter")
    if existing is None:
        existing = SlidingWindowLimiter(jobs.redis_connection(app))
        app.extensions["decant_limiter"] = existing
    return existing


# --- campaigns ---------------------------------------------------------------------


def status_counts(campaign: Campaign) -> dict[str, int]:
    model = channel_for(campaign.channel).model
    rows = db.session.execute(
        select(model.status, func.count())
        .where(model.campaign_id == campaign.id)
        .group_by(model.status)
    ).all()
    counts = {status: 0 for status in outbox.STATUSES}
    counts.update({status: n for status, n in rows})
    return counts


def has_reachable(channel: str, customer_ids: Select[Any]) -> bool:
    """Whether any of these customers may receive ``channel`` now: an address, and
    neither opted out nor suppressed (SMS: opted in)."""
    from app.crm.models import Customer
    from app.messaging import consent

    address = Customer.email if channel == "email" else Customer.phone
    first = db.session.scalar(
        select(Customer.id)
        .where(
            Customer.id.in_(customer_ids.scalar_subquery()),
            address.is_not(None),
            consent.contactable_clause(channel),
        )
        .limit(1)
    )
    return first is not None


def launch(campaign: Campaign) -> jobs.JobHandle:
    """Queue a campaign now or at its scheduled time."""
    campaign.status = "scheduled" if campaign.scheduled_at else "preparing"
    db.session.commit()
    return jobs.enqueue(prepare_campaign, campaign.id, queue="campaigns", at=campaign.scheduled_at)


def prepare_campaign(campaign_id: int) -> None:
    """Job: write the recipients' rows (once), then start sending."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status in ("cancelled", "sent", "paused"):
        return
    channel = channel_for(campaign.channel)
    already = db.session.scalar(
        select(func.count())
        .select_from(channel.model)
        .where(channel.model.campaign_id == campaign.id)
    )
    if not already:
        from app.auth.models import User
        from app.engagement import sunset

        owner = db.session.get(User, campaign.created_by_id) if campaign.created_by_id else None
        try:
            if owner is None or campaign.audience_ref is None:
                raise LookupError("the campaign has no audience or owner")
            customer_ids = sunset.campaign_audience(campaign, owner)
        except Exception as exc:  # the list was deleted or its owner lost access
            campaign.status = "failed"
            campaign.last_error = f"audience unavailable: {exc}"
            db.session.commit()
            return
        customer_ids = holdout.hold_back(campaign, customer_ids)  # to measure lift
        campaign.recipients_total = channel.materialize(campaign, customer_ids)
        if not campaign.recipients_total:  # the list emptied since the campaign was made
            campaign.status = "failed"
            campaign.last_error = f"nobody on the list had an address for {campaign.channel}"
            if campaign.sunset_skipped:
                campaign.last_error = (
                    f"everyone reachable on the list is sunset ({campaign.sunset_skipped}); "
                    "include sunset customers to send to them"
                )
            campaign.finished_at = utcnow()
            db.session.commit()
            return
    from app.experiments import campaigns as ab_tests

    ab_tests.split_audience(campaign, channel.model)  # an A/B test's variants (once)
    campaign.status = "sending"
    campaign.started_at = campaign.started_at or utcnow()
    db.session.commit()
    start_sending(campaign.id)


def start_sending(campaign_id: int) -> None:
    """Queue a sending campaign's batch jobs: ``CAMPAIGN_SEND_JOBS`` of them with RQ
    workers, so several workers send its batches at once (each job claims its own rows
    and hands over to one successor, so their number stays put); one without Redis,
    where jobs run one after another in the app's process."""
    wanted = int(current_app.config.get("CAMPAIGN_SEND_JOBS") or 1)
    count = max(1, wanted) if jobs.redis_connection() is not None else 1
    for _ in range(count):
        jobs.enqueue(send_campaign_batches, campaign_id, queue="campaigns")


def send_campaign_batches(campaign_id: int, time_budget: float | None = None) -> None:
    """Job: send batches for up to ``time_budget`` seconds, then hand over to a new job."""
    budget = time_budget or _seconds_setting("CAMPAIGN_JOB_SECONDS", 120)
    started = time.monotonic()
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "sending":
        return
    channel = channel_for(campaign.channel)
    model = channel.model
    outbox.recover_stale(model, stale_after(channel), [model.campaign_id == campaign.id])
    from app.experiments import campaigns as ab_tests

    held = ab_tests.held_back(campaign, model)  # an A/B test's rest waits for the winner
    # campaign_id, not campaign.id, from here on: each commit expires the campaign, and
    # reading an attribute of it reloads the whole row (its HTML too), once per batch.
    while time.monotonic() - started < budget:
        status = db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        if status != "sending":
            return  # paused or cancelled between batches
        rows = outbox.claim(
            model,
            [model.campaign_id == campaign_id, *held],
            channel.batch_size(None),
            channel.claim_columns,
        )
        if not rows:
            _finish_or_wait(campaign, channel, held)
            return
        _deliver(channel, rows)
    jobs.enqueue(send_campaign_batches, campaign_id, queue="campaigns")


def _finish_or_wait(campaign: Campaign, channel: DeliveryChannel, held: Sequence[Any] = ()) -> None:
    """Sent when no row is left; else a job at the next row's time. Rows ``held`` back
    (an A/B test's rest) wait for the decision job, which sends them: no job meanwhile."""
    model = channel.model
    # one statement, so one snapshot: a decision committed meanwhile cannot make the held
    # rows look gone (the campaign would be marked sent with its rest still queued)
    claimable = and_(*held) if held else true()
    pending = db.session.execute(
        select(
            func.count(case((claimable, 1))),
            func.min(case((claimable, model.next_attempt_at))),
            func.count(),
        ).where(model.campaign_id == campaign.id, model.status.in_(("queued", "sending")))
    ).one()
    if pending[0] == 0 and pending[2]:  # only held rows left: the decision job sends them
        db.session.commit()
        return
    if pending[0] == 0:
        # Guarded: the campaign's other batch jobs may finish at the same moment, and a
        # pause or cancel committed meanwhile stays.
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == "sending")
            .values(status="sent", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return
    due = pending[1]
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=utcnow().tzinfo)
    when = max(due or utcnow(), utcnow() + timedelta(seconds=1))
    db.session.commit()
    jobs.enqueue(send_campaign_batches, campaign.id, queue="campaigns", at=when)


def resume_campaigns() -> list[int]:
    """Periodic watchdog: restart campaigns whose worker died.

    A sending campaign none of whose rows was claimed within the stale period has lost
    its job (worker killed, Redis flushed): enqueue its batches again; they first put back
    the rows the dead worker held, so nothing is lost and only that batch may repeat. A
    campaign stuck in ``preparing`` gets its preparation again (it is idempotent).
    """
    cutoff = utcnow() - stale_after()
    resumed: list[int] = []
    for campaign in db.session.scalars(
        select(Campaign).where(Campaign.status.in_(("sending", "preparing")))
    ):
        try:
            model = channel_for(campaign.channel).model
        except LookupError:
            continue  # that channel is switched off in this process
        if campaign.status == "preparing":
            if campaign.updated_at and campaign.updated_at < cutoff:
                jobs.enqueue(prepare_campaign, campaign.id, queue="campaigns")
                resumed.append(campaign.id)
            continue
        last_claim = db.session.scalar(
            select(func.max(model.claimed_at)).where(model.campaign_id == campaign.id)
        )
        if (last_claim is None or last_claim < cutoff) and _has_work_now(campaign, model):
            start_sending(campaign.id)
            resumed.append(campaign.id)
    from app.experiments import campaigns as ab_tests

    for campaign_id in ab_tests.overdue(stale_after()):  # an A/B decision whose job was lost
        jobs.enqueue(ab_tests.decide_winner, campaign_id, queue="campaigns")
    db.session.commit()
    return resumed


def _has_work_now(campaign: Campaign, model: type[Any]) -> bool:
    """Whether a job would find work now: a row it could claim (or put back, stale), or
    none left at all (it marks the campaign sent). Rows only deferred to later (a
    provider's backoff) or held for an A/B decision have a job waiting for them already,
    so the watchdog adds none."""
    from app.experiments import campaigns as ab_tests

    now = utcnow()
    due = and_(
        model.status == "queued",
        or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
        *ab_tests.held_back(campaign, model),
    )
    pending, ready = db.session.execute(
        select(func.count(), func.count(case((or_(due, model.status == "sending"), 1)))).where(
            model.campaign_id == campaign.id, model.status.in_(("queued", "sending"))
        )
    ).one()
    return bool(ready or not pending)


#: What a user may do to a campaign in each status (the page offers only these).
CAMPAIGN_ACTIONS = {
    "draft": ("cancel",),
    "scheduled": ("pause", "cancel"),
    "preparing": ("pause", "cancel"),
    "sending": ("pause", "cancel"),
    "paused": ("resume", "cancel"),
    "failed": ("cancel",),
}


def campaign_actions(status: str) -> tuple[str, ...]:
    """The actions (pause, resume, cancel) that apply to a campaign in ``status``."""
    return CAMPAIGN_ACTIONS.get(status, ())


def set_campaign_state(campaign: Campaign, action: str) -> None:
    """pause | resume | cancel, where :func:`campaign_actions` allows it."""
    if action not in campaign_actions(campaign.status):
        raise ValueError(f"cannot {action} a campaign that is {campaign.status}")
    if action == "pause":
        campaign.status = "paused"
    elif action == "resume":
        campaign.last_error = None
        model = channel_for(campaign.channel).model
        prepared = db.session.scalar(select(model.id).where(model.campaign_id == campaign.id))
        if prepared is None:  # paused before its recipients were written: prepare it
            launch(campaign)
            return
        campaign.status = "sending"
        db.session.commit()
        start_sending(campaign.id)
        return
    else:
        campaign.status = "cancelled"
        campaign.finished_at = utcnow()
        model = channel_for(campaign.channel).model
        db.session.execute(
            update(model)
            .where(model.campaign_id == campaign.id, model.status == "queued")
            .values(status="cancelled")
        )
    db.session.commit()


# --- single messages ---------------------------------------------------------------


def send_single(channel_name: str, message_id: int) -> None:
    """Job: send one queued message (idempotent: a sent row is left alone)."""
    channel = channel_for(channel_name)
    rows = outbox.claim(channel.model, [channel.model.id == message_id], 1, channel.claim_columns)
    if rows:
        _deliver(channel, rows)


def enqueue_single(channel_name: str, message_id: int) -> str:
    """Queue a single send; with Redis down the row stays queued for the sweep."""
    try:
        handle = jobs.enqueue(send_single, channel_name, message_id, queue="messages")
    except Exception as exc:  # Redis unreachable: the periodic sweep will pick it up
        log.warning("could not enqueue %s message %s: %s", channel_name, message_id, exc)
        return "queued"
    return handle.status


def send_many(channel_name: str, message_ids: list[int]) -> None:
    """Job: send these queued single messages (a flow step's), claimed at once
    (idempotent as :func:`send_single`: rows sent or claimed already are left alone)."""
    channel = channel_for(channel_name)
    model = channel.model
    rows = outbox.claim(model, [model.id.in_(message_ids)], len(message_ids), channel.claim_columns)
    if rows:
        _deliver(channel, rows)


def enqueue_many(channel_name: str, message_ids: Sequence[int]) -> None:
    """Queue single sends in jobs of the provider's batch size; with Redis down the rows
    stay queued for the sweep."""
    channel = channel_for(channel_name)
    size = max(1, channel.batch_size(channel.provider()))
    ids = sorted(message_ids)
    for lo in range(0, len(ids), size):
        part = ids[lo : lo + size]
        try:
            jobs.enqueue(send_many, channel_name, part, queue="messages")
        except Exception as exc:  # Redis unreachable: the periodic sweep will pick them up
            log.warning("could not enqueue %d %s messages: %s", len(part), channel_name, exc)


def sweep_stale(channel_name: str) -> int:
    """Periodic: re-enqueue single messages whose job was lost: claimed by a worker that
    died (sent at once), queued longer than the stale period (the job was never enqueued,
    Redis being down, or a killed worker took it before claiming the row), or deferred by
    a transient error and now due (no job waits for those). A duplicate job is harmless:
    only one claims the row."""
    channel = channel_for(channel_name)
    model = channel.model
    single = model.campaign_id.is_(None)
    recovered = outbox.recover_stale(model, stale_after(channel), [single])
    now = utcnow()
    cutoff = now - stale_after(channel)
    left = db.session.scalars(
        select(model.id)
        .where(
            single,
            model.status == "queued",
            or_(
                and_(model.next_attempt_at.is_(None), model.created_at < cutoff),
                model.next_attempt_at <= now,
            ),
        )
        .limit(1000)
    ).all()
    ids = sorted(set(recovered) | set(left))
    for message_id in ids:
        jobs.enqueue(send_single, channel_name, message_id, queue="messages")
    return len(ids)


# --- the send step -----------------------------------------------------------------


def _deliver(channel: DeliveryChannel, rows: list[outbox.OutboxRow]) -> None:
    """Send claimed rows: refusals and holds first, then provider-sized chunks under the
    shared rate limit, each chunk's outcomes committed before the next goes."""
    model = channel.model
    refusals = channel.refusals(rows)
    for row in rows:
        if row.id in refusals:
            outbox.mark_suppressed(row, refusals[row.id])
    if channel.hold_until:
        holds = channel.hold_until([r for r in rows if r.status == "sending"])
        for row in rows:
            if row.id in holds:
                row.status, row.claim_token, row.next_attempt_at = "queued", None, holds[row.id]
    sendable = [r for r in rows if r.status == "sending"]
    if len(sendable) != len(rows):
        outbox.save(model, rows)
        db.session.commit()
    if not sendable:
        return
    provider = channel.provider()
    rate = channel.rate_limit(provider)
    # A per-message limit smaller than the batch sends the batch in steps of the limit.
    step = rate.limit if rate.per_message else len(sendable)
    try:
        for start in range(0, len(sendable), step):
            chunk = sendable[start : start + step]
            limiter().wait(rate.key, rate.limit, rate.window, len(chunk) if rate.per_message else 1)
            outcomes = channel.send(provider, chunk)
            if _record(channel, provider, chunk, outcomes) is not None:
                _release(channel, sendable[start + step :])
                return
    except TransientError as exc:
        _defer(channel, provider, [r for r in sendable if r.status == "sending"], exc)


def _defer(channel: DeliveryChannel, provider: Any, rows: list[Any], exc: TransientError) -> None:
    """Put back rows the provider could not take now (retried with backoff)."""
    outbox.retry_later(rows, getattr(provider, "name", channel.name), exc)
    outbox.save(channel.model, rows)
    db.session.commit()
    log.warning("%s batch of %d deferred: %s", channel.name, len(rows), exc)


def _release(channel: DeliveryChannel, rows: Sequence[Any]) -> None:
    """Put claimed rows back, untried (their campaign stopped before they went)."""
    for row in rows:
        row.status, row.claim_token = "queued", None
    outbox.save(channel.model, rows)
    db.session.commit()


def _record(
    channel: DeliveryChannel, provider: Any, rows: Sequence[Any], outcomes: Sequence[Outcome]
) -> AccountError | None:
    """Write a batch's outcomes; the :class:`AccountError` that stopped its campaign, if
    the provider refused the account (the caller then sends no more of it)."""
    name = getattr(provider, "name", channel.name)
    if len(outcomes) != len(rows):
        raise RuntimeError(f"{channel.name}: {len(outcomes)} outcomes for {len(rows)} rows")
    sent: dict[tuple[str, str | None], list[Any]] = {}
    stopped: dict[int, AccountError] = {}
    routes = getattr(provider, "routes", False)  # email failover: outcomes name their provider
    for row, outcome in zip(rows, outcomes, strict=True):
        via = (getattr(outcome, "provider", None) or name) if routes else name
        if isinstance(outcome, TransientError):
            outbox.retry_later([row], via, outcome)
        elif isinstance(outcome, AccountError) and row.campaign_id is not None:
            # Not this recipient's failure: the row waits, with the reason, for the
            # campaign to be resumed once the account is fixed.
            outbox.mark_failed(row, via, outcome)
            row.status, row.claim_token = "queued", None
            stopped.setdefault(row.campaign_id, outcome)
        elif isinstance(outcome, ProviderError):
            outbox.mark_failed(row, via, outcome)
            if isinstance(outcome, PermanentError) and outcome.suppress:
                _suppress_from_error(channel, row, outcome)
        else:
            message_id = getattr(outcome, "provider_message_id", outcome)
            sent.setdefault((via, message_id), []).append(row)
    now = utcnow()  # one time for the batch: its rows share one UPDATE (outbox.save)
    for (via, provider_message_id), sent_rows in sent.items():
        for row in sent_rows:
            outbox.mark_sent(row, via, provider_message_id, now)
    if channel.after_send:
        channel.after_send(rows)
    outbox.save(channel.model, rows)
    if channel.sent_values:
        table = channel.model.__table__
        ids = [row.id for sent_rows in sent.values() for row in sent_rows]
        if ids:
            db.session.execute(
                update(table).where(table.c.id.in_(ids)).values(**channel.sent_values())
            )
    for campaign_id, error in stopped.items():
        _stop_campaign(campaign_id, error)
    db.session.commit()
    return next(iter(stopped.values()), None)


def _stop_campaign(campaign_id: int, error: AccountError) -> None:
    """Pause a sending campaign the provider will not take, saying why: resumed once the
    account is fixed, it goes on where it stopped (its rows are still queued)."""
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(("sending", "preparing")))
        .values(status="paused", last_error=f"Stopped: {error}"[:2000])
        .execution_options(synchronize_session=False)
    )
    log.warning("campaign %s paused: %s", campaign_id, error)


def _suppress_from_error(channel: DeliveryChannel, row: Any, error: PermanentError) -> None:
    from app.messaging.consent import opt_out

    db.session.flush()
    opt_out(
        channel.name,
        row.to_address,
        reason=error.reason or "bounce",
        source=f"{error.provider or channel.name}:{error.code or 'error'}",
        customer_id=getattr(row, "customer_id", None),
        detail=str(error)[:300],
    )
