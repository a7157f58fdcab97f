"""Running flows: entering customers, performing steps exactly once, waiting by job.

A run advances in :func:`advance` (a job, safe to run twice or concurrently): each step
but a wait inserts its :class:`FlowStepExecution` in the same transaction as its work (the
message row, the task, the field), so the unique (run, step) key lets one job do it and
makes any duplicate stop. A wait records itself as ``waiting`` and schedules
:func:`advance` for its time (an RQ scheduled job, or a ``scheduled_job`` row inline); the
job that finds it due claims it with a conditional UPDATE. A watchdog re-enqueues runs
whose job was lost (a worker killed, Redis flushed) and runs of a flow resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.attribution.touches import sources
from app.campaigns.zones import zone
from app.crm.models import CommunicationPreference, Customer, Order, Territory
from app.errors import DomainError
from app.extensions import db
from app.flows.models import UNFINISHED, Flow, FlowRun, FlowStepExecution, FlowVersion
from app.flows.senders import sender_for
from app.flows.steps import WEEKDAYS
from app.messaging.models import Template
from app.models_base import utcnow

log = logging.getLogger(__name__)
ADVANCE = "app.flows.engine:advance"
QUEUE = "default"
#: steps one job performs before handing the run to a fresh job
STEPS_PER_JOB = 60
NOT_SENT = ("suppressed", "failed", "cancelled")


# --- entering ---------------------------------------------------------------------------


def steps_of(flow_id: int, version: int) -> list[dict[str, Any]]:
    steps = db.session.scalar(
        select(FlowVersion.steps).where(
            FlowVersion.flow_id == flow_id, FlowVersion.number == version
        )
    )
    return list(steps or [])


def may_enter(flow: Flow, customer_id: int, now: datetime) -> int | None:
    """The entry number this customer would get, or None when the re-entry rule (or a
    run still in progress) keeps them out."""
    runs = db.session.execute(
        select(func.count(), func.max(FlowRun.entered_at)).where(
            FlowRun.flow_id == flow.id, FlowRun.customer_id == customer_id
        )
    ).one()
    count, last = int(runs[0] or 0), runs[1]
    if count == 0:
        return 1
    unfinished = db.session.scalar(
        select(FlowRun.id).where(
            FlowRun.flow_id == flow.id,
            FlowRun.customer_id == customer_id,
            FlowRun.state.in_(UNFINISHED),
        )
    )
    if unfinished is not None or flow.reentry != "after" or not flow.reentry_days:
        return None
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is not None and now - last < timedelta(days=flow.reentry_days):
        return None
    return count + 1


def enter(flow: Flow, customer_id: int, now: datetime | None = None) -> FlowRun | None:
    """Start a run for the customer (committed, and its first job enqueued), or None
    when the flow is not active, the customer is archived or the re-entry rule refuses."""
    now = now or utcnow()
    if flow.status != "active":
        return None
    archived = db.session.scalar(select(Customer.archived).where(Customer.id == customer_id))
    if archived is None or archived:
        return None
    entry_no = may_enter(flow, customer_id, now)
    if entry_no is None:
        return None
    steps = steps_of(flow.id, flow.version)
    run = FlowRun(
        flow_id=flow.id,
        version=flow.version,
        customer_id=customer_id,
        entry_no=entry_no,
        state="running",
        current_step=steps[0]["key"] if steps else None,
        entered_at=now,
        next_at=now,  # due since (the watchdog's clue when its job is lost)
    )
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:  # another trigger entered the customer at the same moment
        db.session.rollback()
        return None
    jobs.enqueue(ADVANCE, run.id, queue=QUEUE)
    return run


def enter_many(trigger_type: str, customer_ids: Iterable[int], match: Any = None) -> int:
    """Enter customers into every active flow of ``trigger_type`` whose trigger config
    ``match(config)`` accepts (all when no ``match``)."""
    flows = db.session.scalars(
        select(Flow).where(Flow.status == "active", Flow.trigger_type == trigger_type)
    ).all()
    entered = 0
    ids = list(customer_ids)
    for flow in flows:
        if match is not None and not match(flow.trigger_config or {}):
            continue
        for customer_id in ids:
            if enter(flow, customer_id) is not None:
                entered += 1
    return entered


def exit_runs(customer_ids: Iterable[int], reason: str) -> int:
    """End the unfinished runs of these customers in flows that exit on ``reason``
    (ordered, replied, opted_out)."""
    column = {
        "ordered": Flow.exit_on_order,
        "replied": Flow.exit_on_reply,
        "opted_out": Flow.exit_on_opt_out,
    }[reason]
    ids = list(customer_ids)
    if not ids:
        return 0
    flows = select(Flow.id).where(column.is_(True))
    result = db.session.execute(
        update(FlowRun)
        .where(
            FlowRun.customer_id.in_(ids),
            FlowRun.state.in_(UNFINISHED),
            FlowRun.flow_id.in_(flows),
        )
        .values(state="exited", exit_reason=reason, finished_at=utcnow(), next_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(cast("Any", result).rowcount or 0)


# --- advancing --------------------------------------------------------------------------


def advance(run_id: int) -> None:
    """Job: perform the run's steps until a wait, the end, or a pause."""
    for _ in range(STEPS_PER_JOB):
        db.session.expire_all()
        run = db.session.get(FlowRun, run_id)
        if run is None or run.state not in UNFINISHED:
            return
        flow = db.session.get_one(Flow, run.flow_id)
        steps = steps_of(run.flow_id, run.version)
        index = {s["key"]: i for i, s in enumerate(steps)}
        if run.current_step is None or run.current_step not in index:
            _finish(run, "done", None)
            return
        if flow.status != "active":  # paused: the run waits where it is
            if run.state != "waiting" or run.next_at is None:
                run.state, run.next_at = "waiting", run.next_at or utcnow()
                db.session.commit()
            return
        step = steps[index[run.current_step]]
        if step["type"] == "wait":
            if not _wait(run, step):
                return
            continue
        sent = _perform(run, flow, step, steps, index)
        if sent is False:
            return
        if isinstance(sent, tuple):
            from app.messaging import delivery

            delivery.enqueue_single(sent[0], sent[1])
    jobs.enqueue(ADVANCE, run_id, queue=QUEUE)


def _next_key(steps: list[dict[str, Any]], index: dict[str, int], key: str, go: Any) -> str | None:
    if go == "exit":
        return None
    if go and go != "next":
        return str(go)
    position = index[key] + 1
    return steps[position]["key"] if position < len(steps) else None


def _finish(run: FlowRun, state: str, reason: str | None) -> None:
    run.state, run.exit_reason = state, reason
    run.finished_at, run.next_at, run.current_step = utcnow(), None, run.current_step
    db.session.commit()


def _perform(
    run: FlowRun,
    flow: Flow,
    step: dict[str, Any],
    steps: list[dict[str, Any]],
    index: dict[str, int],
) -> tuple[str, int] | None | bool:
    """Do one step under its unique execution row. False when another job did it (or is
    doing it); the (channel, message id) to send once committed; else None."""
    kind, key = step["type"], step["key"]
    if kind in ("list_add", "list_remove"):
        # the lists channel commits its own writes; adding or removing twice is harmless,
        # so the action goes first and the record after
        status, detail = _list_step(flow, run, step)
        execution = FlowStepExecution(run_id=run.id, step_key=key, status=status, detail=detail)
        outcome: tuple[str, int] | None = None
        go: Any = "next"
    else:
        execution = FlowStepExecution(run_id=run.id, step_key=key, status="running")
    db.session.add(execution)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    if kind not in ("list_add", "list_remove"):
        status, detail, outcome, go = _act(run, flow, step)
        execution.status, execution.detail = status, (detail or None)
        if outcome is not None:
            execution.channel, execution.message_id = outcome
    now = utcnow()
    if go == "exit" or kind == "exit":
        reason = "exit_step" if kind == "exit" else "branch"
        values = {"state": "exited", "exit_reason": reason, "finished_at": now, "next_at": None}
    else:
        following = _next_key(steps, index, key, go)
        if following is None:
            values = {"state": "done", "finished_at": now, "next_at": None}
        else:
            values = {"current_step": following, "state": "running", "next_at": now}
    if not _move(run.id, key, values):
        return False  # the run exited (an order, a reply) meanwhile: its step is undone
    db.session.commit()
    return outcome


def _move(run_id: int, at_step: str, values: dict[str, Any]) -> bool:
    """Move the run on, unless it left meanwhile (an exit committed by another process
    wins over the step in flight, which then rolls back: nothing is sent)."""
    moved = cast(
        "Any",
        db.session.execute(
            update(FlowRun)
            .where(
                FlowRun.id == run_id,
                FlowRun.state.in_(UNFINISHED),
                FlowRun.current_step == at_step,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if not moved:
        db.session.rollback()
        return False
    return True


def _act(
    run: FlowRun, flow: Flow, step: dict[str, Any]
) -> tuple[str, str, tuple[str, int] | None, Any]:
    """(status, detail, (channel, message id) to send, where to go) for one step."""
    kind = step["type"]
    customer = db.session.get_one(Customer, run.customer_id)
    if kind in ("email", "sms"):
        status, detail, outcome = _send(run, customer, kind, step)
        return status, detail, outcome, "next"
    if kind == "branch":
        holds = _condition(run, customer, step.get("condition") or {})
        go = step.get("then", "next") if holds else step.get("else", "next")
        return "done", "true" if holds else "false", None, go
    if kind == "task":
        return (*_task(flow, customer, step), None, "next")
    if kind == "tag":
        fields = dict(customer.custom_fields or {})
        tags = list(fields.get("tags") or [])
        tag = str(step["tag"]).strip()
        if tag not in tags:
            tags.append(tag)
        fields["tags"] = tags
        customer.custom_fields = fields
        return "done", tag, None, "next"
    if kind == "field":
        fields = dict(customer.custom_fields or {})
        fields[str(step["field"]).strip()] = step.get("value")
        customer.custom_fields = fields
        return "done", str(step["field"]), None, "next"
    if kind == "exit":
        return "done", "", None, "exit"
    return "skipped", f"unknown step {kind}", None, "next"


# --- sending ----------------------------------------------------------------------------


def capped(channel: str, customer_id: int, now: datetime | None = None) -> bool:
    """Did the customer get a marketing message on ``channel`` (a campaign's or a flow's)
    within the cap window (FLOW_CAP_EMAIL_HOURS, FLOW_CAP_SMS_HOURS)?"""
    from app.messaging.delivery import channel_for

    hours = int(current_app.config.get(f"FLOW_CAP_{channel.upper()}_HOURS") or 0)
    if hours <= 0:
        return False
    model = channel_for(channel).model
    since = (now or utcnow()) - timedelta(hours=hours)
    found = db.session.scalar(
        select(model.id)
        .where(
            model.customer_id == customer_id,
            or_(model.campaign_id.is_not(None), model.flow_run_id.is_not(None)),
            model.status.not_in(NOT_SENT),
            func.coalesce(model.sent_at, model.created_at) >= since,
        )
        .limit(1)
    )
    return found is not None


def _send(
    run: FlowRun, customer: Customer, channel: str, step: dict[str, Any]
) -> tuple[str, str, tuple[str, int] | None]:
    sender = sender_for(channel)
    if sender is None:
        return "skipped", f"the {channel} channel is not enabled", None
    template = db.session.scalar(
        select(Template).where(
            Template.public_id == step.get("templateId"), Template.type == channel
        )
    )
    if template is None:
        return "skipped", "the template is gone", None
    if capped(channel, customer.id):
        return "capped", f"a marketing {channel} went out within the cap window", None
    try:
        with db.session.begin_nested():  # a message that cannot render leaves nothing
            message_id = sender.queue(customer, template, run.id)
    except DomainError as exc:
        return "skipped", exc.text()[:300], None
    if message_id is None:
        return "skipped", f"no {channel} address", None
    return "sent", "", (channel, message_id)


def _task(flow: Flow, customer: Customer, step: dict[str, Any]) -> tuple[str, str]:
    from app.repday.models import RepFollowUp

    if customer.rep_id is None:
        return "skipped", "the account has no rep"
    due = utcnow().date() + timedelta(days=int(step.get("dueInDays") or 0))
    db.session.add(
        RepFollowUp(
            rep_id=customer.rep_id,
            customer_id=customer.id,
            kind="task",
            title=str(step["title"])[:200],
            due_on=due,
            created_by_id=flow.created_by_id,
        )
    )
    return "done", ""


def _list_step(flow: Flow, run: FlowRun, step: dict[str, Any]) -> tuple[str, str]:
    from app.auth.models import User
    from app.messaging.audiences import resolvers

    resolver = resolvers().get("list")
    owner = db.session.get(User, flow.created_by_id) if flow.created_by_id else None
    action = None
    if resolver is not None:
        action = resolver.add_members if step["type"] == "list_add" else resolver.remove_members
    if action is None or owner is None:
        return "skipped", "lists are not available"
    public_id = db.session.scalar(select(Customer.public_id).where(Customer.id == run.customer_id))
    try:
        action(str(step["listId"]), [str(public_id)], owner)
    except LookupError as exc:
        db.session.rollback()
        return "skipped", str(exc)[:300] or "unknown list"
    except Exception as exc:  # noqa: BLE001 - a refused write (a smart list) skips the step
        db.session.rollback()
        return "skipped", str(getattr(exc, "message", exc))[:300]
    return "done", ""


# --- conditions -------------------------------------------------------------------------


def _condition(run: FlowRun, customer: Customer, condition: dict[str, Any]) -> bool:
    kind = condition.get("kind")
    since, now = run.entered_at, utcnow() + timedelta(seconds=1)
    if kind in ("clicked", "replied"):
        wanted = "email_click" if kind == "clicked" else "sms_reply"
        return any(
            source.touches([customer.id], since, now)
            for source in sources()
            if source.kind == wanted
        )
    if kind == "ordered":
        found = db.session.scalar(
            select(Order.id)
            .where(Order.customer_id == customer.id, Order.created_at >= since)
            .limit(1)
        )
        return found is not None
    if kind == "field":
        name = str(condition.get("field") or "")
        if name in ("account_type", "account_priority", "engagement_state"):
            value = getattr(customer, name)
        else:
            value = (customer.custom_fields or {}).get(name)
        expected = condition.get("equals")
        if expected is None:
            return value not in (None, "", [])
        return str(value).lower() == str(expected).lower()
    return False


# --- waiting ----------------------------------------------------------------------------


def customer_zone(customer_id: int) -> str | None:
    row = db.session.execute(
        select(CommunicationPreference.timezone, Territory.timezone)
        .select_from(Customer)
        .outerjoin(CommunicationPreference, CommunicationPreference.customer_id == Customer.id)
        .outerjoin(Territory, Territory.id == Customer.territory_id)
        .where(Customer.id == customer_id)
    ).first()
    if row is None:
        return None
    return row[0] or row[1]


def wait_until(step: dict[str, Any], start: datetime, zone_name: str | None) -> datetime:
    """When a wait that starts at ``start`` ends: after its duration, or at the next
    weekday and time on the customer's own clock."""
    until = step.get("until")
    if not until:
        return start + timedelta(
            days=int(step.get("days") or 0),
            hours=int(step.get("hours") or 0),
            minutes=int(step.get("minutes") or 0),
        )
    tz = zone(zone_name)
    local = start.astimezone(tz)
    hour, minute = (int(p) for p in str(until["time"]).split(":"))
    weekday = WEEKDAYS.index(until["weekday"])
    day: date = local.date()
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if candidate_day.weekday() != weekday:
            continue
        candidate = datetime.combine(candidate_day, time(hour, minute), tzinfo=tz)
        if candidate > local:
            return candidate.astimezone(UTC)
    raise AssertionError("a weekday comes within eight days")


def _wait(run: FlowRun, step: dict[str, Any]) -> bool:
    """True when the wait is over and this job claimed it (the run moves on)."""
    key = step["key"]
    execution = db.session.scalar(
        select(FlowStepExecution).where(
            FlowStepExecution.run_id == run.id, FlowStepExecution.step_key == key
        )
    )
    now = utcnow()
    if execution is None:
        due = wait_until(step, now, customer_zone(run.customer_id))
        db.session.add(FlowStepExecution(run_id=run.id, step_key=key, status="waiting"))
        run.state, run.next_at = "waiting", due
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        jobs.enqueue(ADVANCE, run.id, queue=QUEUE, at=due)
        return False
    if execution.status != "waiting":
        return False
    next_at = run.next_at
    if next_at is not None and next_at.tzinfo is None:
        next_at = next_at.replace(tzinfo=UTC)
    if next_at is not None and next_at > now:
        return False  # early (a duplicate job): the scheduled one will come
    claimed = cast(
        "Any",
        db.session.execute(
            update(FlowStepExecution)
            .where(FlowStepExecution.id == execution.id, FlowStepExecution.status == "waiting")
            .values(status="passed")
        ),
    ).rowcount
    if not claimed:
        db.session.rollback()
        return False
    steps = steps_of(run.flow_id, run.version)
    index = {s["key"]: i for i, s in enumerate(steps)}
    following = _next_key(steps, index, key, "next")
    if following is None:
        values: dict[str, Any] = {"state": "done", "finished_at": now, "next_at": None}
    else:
        values = {"current_step": following, "state": "running", "next_at": now}
    if not _move(run.id, key, values):
        return False
    db.session.commit()
    return following is not None


# --- the watchdog -----------------------------------------------------------------------


def resume_runs() -> int:
    """Periodic: re-enqueue runs of active flows whose job is overdue by FLOW_STALE_SECONDS
    (lost with a killed worker or a flushed Redis). Reads only unfinished runs that are
    due; a run whose job is merely late gets a second job, which the step records make
    harmless."""
    grace = int(current_app.config.get("FLOW_STALE_SECONDS", 300))
    cutoff = utcnow() - timedelta(seconds=grace)
    ids = db.session.scalars(
        select(FlowRun.id)
        .join(Flow, Flow.id == FlowRun.flow_id)
        .where(
            Flow.status == "active",
            FlowRun.state.in_(UNFINISHED),
            FlowRun.next_at <= cutoff,
        )
        .limit(5000)
    ).all()
    for run_id in ids:
        jobs.enqueue(ADVANCE, run_id, queue=QUEUE)
    return len(ids)


def wake_flow(flow_id: int) -> int:
    """On activation: continue the flow's runs that are due."""
    ids = db.session.scalars(
        select(FlowRun.id).where(
            FlowRun.flow_id == flow_id,
            FlowRun.state.in_(UNFINISHED),
            or_(FlowRun.next_at.is_(None), FlowRun.next_at <= utcnow()),
        )
    ).all()
    for run_id in ids:
        jobs.enqueue(ADVANCE, run_id, queue=QUEUE)
    return len(ids)
