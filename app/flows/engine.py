"""Running flows in sets: entering many customers, performing steps exactly once, waiting
by job.

Entry (:func:`enter_set`) inserts a slice of runs in one statement that skips conflicts
(the unique (flow, customer, entry) key: a race enters once) and enqueues ONE
:func:`advance` job for the slice. :func:`advance` takes run ids (one, for a manual add,
or a slice) and moves them step by step, the runs at the same (flow, version, step)
together: it inserts their :class:`FlowStepExecution` rows in one statement that skips
conflicts, and acts only on the runs whose row it inserted (the unique (run, step) key:
a retried or duplicated job does nothing twice); it moves those runs on in one UPDATE
guarded by their current step (a run that exited meanwhile is left alone and its
record removed), then does the work (messages created in bulk through the channel's
:class:`~app.flows.senders.FlowSender`, handed to delivery in batches), all in the
step's transaction. A wait records its runs as ``waiting`` and schedules one job per
due time for them (a step whose runs go on to a wait of fixed duration does that itself,
in its own transaction); the job that finds them due moves them on with the same guarded
UPDATE. Ids go to PostgreSQL as one array parameter (:func:`app.sets.among`).
List steps (the lists channel commits its own writes) run per customer. A watchdog
re-enqueues, in slices, runs whose job was lost and runs of a resumed flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, cast

from flask import current_app
from sqlalchemy import case, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.attribution.touches import sources
from app.campaigns.zones import zone
from app.crm.models import CommunicationPreference, Customer, Order, Territory
from app.extensions import db
from app.flows.models import UNFINISHED, Flow, FlowRun, FlowStepExecution, FlowVersion
from app.flows.senders import sender_for
from app.flows.steps import SEND_TYPES, WEEKDAYS
from app.ids import new_public_ids
from app.messaging.models import Template
from app.models_base import utcnow
from app.sets import among

log = logging.getLogger(__name__)
ADVANCE = "app.flows.engine:advance"
QUEUE = "default"
#: steps one job performs before handing its runs to a fresh job
STEPS_PER_JOB = 60
#: runs entered, advanced or re-enqueued per statement and per job
SLICE = 1000
NOT_SENT = ("suppressed", "failed", "cancelled")
LIST_STEPS = ("list_add", "list_remove")
RUN = FlowRun.__table__
EXECUTION = FlowStepExecution.__table__


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _slices(ids: Sequence[int], size: int = SLICE) -> Iterable[list[int]]:
    for lo in range(0, len(ids), size):
        yield list(ids[lo : lo + size])


def _insert_skipping(table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for this database (a unique key skips the row)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _enqueue_runs(run_ids: Sequence[int], at: datetime | None = None) -> None:
    for part in _slices(sorted(run_ids)):
        jobs.enqueue(ADVANCE, part, queue=QUEUE, at=at)


# --- entering ---------------------------------------------------------------------------


def steps_of(flow_id: int, version: int) -> list[dict[str, Any]]:
    steps = db.session.scalar(
        select(FlowVersion.steps).where(
            FlowVersion.flow_id == flow_id, FlowVersion.number == version
        )
    )
    return list(steps or [])


def _entry_numbers(flow: Flow, customer_ids: Sequence[int], now: datetime) -> dict[int, int]:
    """Each customer's entry number, leaving out archived customers and those the re-entry
    rule (or a run still in progress) keeps out: one grouped query for the slice, the
    customers joined to their runs of this flow."""
    unfinished = func.sum(case((FlowRun.state.in_(UNFINISHED), 1), else_=0))
    prior = db.session.execute(
        select(Customer.id, func.count(FlowRun.id), func.max(FlowRun.entered_at), unfinished)
        .outerjoin(FlowRun, (FlowRun.customer_id == Customer.id) & (FlowRun.flow_id == flow.id))
        .where(among(Customer.id, customer_ids), Customer.archived.is_(False))
        .group_by(Customer.id)
    )
    again = flow.reentry == "after" and bool(flow.reentry_days)
    window = timedelta(days=flow.reentry_days or 0)
    numbers: dict[int, int] = {}
    for customer_id, count, last, open_runs in prior:
        if not count:
            numbers[customer_id] = 1
        elif not open_runs and again and (last is None or now - _aware(last) >= window):
            numbers[customer_id] = int(count) + 1
    return numbers


def enter_set(flow: Flow, customer_ids: Iterable[int], now: datetime | None = None) -> list[int]:
    """Enter these customers (archived ones and those the re-entry rule keeps out are
    left out): per slice, one INSERT of the runs skipping conflicts (another trigger
    entered the customer at the same moment), committed, then ONE job for the slice's
    runs. The new run ids, read back by the public ids this call made (an INSERT of many
    rows with RETURNING costs PostgreSQL two to three times one without)."""
    now = now or utcnow()
    if flow.status != "active":
        return []
    steps = steps_of(flow.id, flow.version)
    first = steps[0]["key"] if steps else None
    created: list[int] = []
    for part in _slices(sorted(set(customer_ids))):
        numbers = _entry_numbers(flow, part, now)
        if not numbers:
            continue
        public_ids = new_public_ids(FlowRun.id_prefix, len(numbers))
        rows = [
            {
                "public_id": public_id,
                "flow_id": flow.id,
                "version": flow.version,
                "customer_id": customer_id,
                "entry_no": entry_no,
                "state": "running",
                "current_step": first,
                "entered_at": now,
                "next_at": now,  # due since (the watchdog's clue when its job is lost)
            }
            for public_id, (customer_id, entry_no) in zip(
                public_ids, sorted(numbers.items()), strict=True
            )
        ]
        db.session.execute(_insert_skipping(RUN), rows)
        new = sorted(db.session.scalars(select(RUN.c.id).where(among(RUN.c.public_id, public_ids))))
        db.session.commit()
        if new:
            _enqueue_runs(new)
            created.extend(new)
    return created


def enter(flow: Flow, customer_id: int, now: datetime | None = None) -> FlowRun | None:
    """Start a run for one customer (a manual add; :func:`enter_set` of one), or None
    when the flow is not active, the customer is archived or the re-entry rule refuses."""
    created = enter_set(flow, [customer_id], now)
    return db.session.get(FlowRun, created[0]) if created else None


def enter_many(trigger_type: str, customer_ids: Iterable[int], match: Any = None) -> int:
    """Enter customers into every active flow of ``trigger_type`` whose trigger config
    ``match(config)`` accepts (all when no ``match``), in sets."""
    flows = db.session.scalars(
        select(Flow).where(Flow.status == "active", Flow.trigger_type == trigger_type)
    ).all()
    entered = 0
    ids = list(customer_ids)
    for flow in flows:
        if match is not None and not match(flow.trigger_config or {}):
            continue
        entered += len(enter_set(flow, ids))
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
            among(FlowRun.customer_id, ids),
            FlowRun.state.in_(UNFINISHED),
            FlowRun.flow_id.in_(flows),
        )
        .values(state="exited", exit_reason=reason, finished_at=utcnow(), next_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(cast("Any", result).rowcount or 0)


# --- advancing --------------------------------------------------------------------------


class _Job:
    """What one :func:`advance` job caches across its rounds: flows, steps, and what to
    hand on once a step has committed: messages to delivery, and the jobs of runs sent
    straight into a wait (by due time)."""

    def __init__(self) -> None:
        self.steps: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.messages: dict[str, list[int]] = {}
        self.waking: dict[datetime, list[int]] = {}

    def steps_of(self, flow_id: int, version: int) -> list[dict[str, Any]]:
        found = self.steps.get((flow_id, version))
        if found is None:
            found = self.steps[(flow_id, version)] = steps_of(flow_id, version)
        return found

    def deliver(self) -> None:
        from app.messaging import delivery

        for channel, ids in self.messages.items():
            delivery.enqueue_many(channel, ids)
        self.messages = {}
        for when, run_ids in self.waking.items():
            _enqueue_runs(run_ids, at=when)
        self.waking = {}

    def schedule_waits(self) -> None:
        """Before the step commits: the jobs of runs it sent into a wait that ends later.
        Without Redis their ``scheduled_job`` row is written in the step's transaction
        (its enqueue commits it: one commit for both); with Redis a job whose step then
        failed finds no run due and does nothing. A wait already over goes after the
        commit (:meth:`deliver`), as its job runs at once."""
        now = utcnow()
        for when in [w for w in self.waking if w > now]:
            _enqueue_runs(self.waking.pop(when), at=when)


class _Run(NamedTuple):
    """What a step reads of a run."""

    id: int
    flow_id: int
    version: int
    customer_id: int
    current_step: str | None
    state: str
    next_at: datetime | None
    entered_at: datetime


#: runs a step sent on at once: (run id, the step it is now at)
Going = list[tuple[int, str | None]]


def _read_runs(run_ids: Sequence[int]) -> list[_Run]:
    found: list[_Run] = []
    for part in _slices(run_ids):
        found.extend(
            _Run(*row)
            for row in db.session.execute(
                select(
                    FlowRun.id,
                    FlowRun.flow_id,
                    FlowRun.version,
                    FlowRun.customer_id,
                    FlowRun.current_step,
                    FlowRun.state,
                    FlowRun.next_at,
                    FlowRun.entered_at,
                ).where(among(FlowRun.id, part), FlowRun.state.in_(UNFINISHED))
            )
        )
    return found


def advance(run_ids: int | list[int]) -> None:
    """Job: perform the runs' steps until each waits, ends, or its flow is paused. The
    runs at the same (flow, version, step) go together, a statement per step. Runs are
    read once; those a step sends on are carried to the next round as the step's guarded
    UPDATE left them (every action is guarded again by its claim and its move)."""
    runs = _read_runs([run_ids] if isinstance(run_ids, int) else [int(i) for i in run_ids])
    job = _Job()
    for _ in range(STEPS_PER_JOB):
        if not runs:
            return
        db.session.expire_all()
        groups: dict[tuple[int, int, str | None], list[_Run]] = {}
        for run in runs:
            groups.setdefault((run.flow_id, run.version, run.current_step), []).append(run)
        runs = []
        for (flow_id, version, key), group in groups.items():
            by_id = {r.id: r for r in group}
            now = utcnow()
            for run_id, following in _step(job, flow_id, version, key, group):
                moved = by_id[run_id]._replace(current_step=following, state="running")
                runs.append(moved._replace(next_at=now))
            job.deliver()
    _enqueue_runs([r.id for r in runs])


def _step(job: _Job, flow_id: int, version: int, key: str | None, runs: list[_Run]) -> Going:
    """Perform step ``key`` for these runs; those to go on at once, and where to."""
    ids = [r.id for r in runs]
    steps = job.steps_of(flow_id, version)
    index = {s["key"]: i for i, s in enumerate(steps)}
    now = utcnow()
    if key is None or key not in index:
        done = {"state": "done", "finished_at": now, "next_at": None}
        _move(ids, key, done)
        db.session.commit()
        return []
    flow = db.session.get_one(Flow, flow_id)
    if flow.status != "active":  # paused: the runs wait where they are
        db.session.execute(
            update(FlowRun)
            .where(
                among(FlowRun.id, ids),
                FlowRun.state.in_(UNFINISHED),
                or_(FlowRun.state != "waiting", FlowRun.next_at.is_(None)),
            )
            .values(state="waiting", next_at=func.coalesce(FlowRun.next_at, now))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return []
    step = steps[index[key]]
    if step["type"] == "wait":
        return _wait(step, runs, steps, index)
    if step["type"] in LIST_STEPS:
        going: Going = []
        for r in runs:
            went, following = _list_step_one(flow, r, step, steps, index)
            if went:
                going.append((r.id, following))
        return going
    return _act(job, flow, step, runs, steps, index)


def _next_key(steps: list[dict[str, Any]], index: dict[str, int], key: str, go: Any) -> str | None:
    if go == "exit":
        return None
    if go and go != "next":
        return str(go)
    position = index[key] + 1
    return steps[position]["key"] if position < len(steps) else None


def _where_to(
    steps: list[dict[str, Any]], index: dict[str, int], step: dict[str, Any], go: Any
) -> dict[str, Any]:
    """The run's new values after ``step`` sent it ``go`` (next, exit, a step's key)."""
    now = utcnow()
    if go == "exit" or step["type"] == "exit":
        reason = "exit_step" if step["type"] == "exit" else "branch"
        return {"state": "exited", "exit_reason": reason, "finished_at": now, "next_at": None}
    following = _next_key(steps, index, step["key"], go)
    if following is None:
        return {"state": "done", "finished_at": now, "next_at": None}
    return {"current_step": following, "state": "running", "next_at": now}


def _fixed_wait_next(
    steps: list[dict[str, Any]], index: dict[str, int], values: dict[str, Any]
) -> tuple[str, datetime] | None:
    """When ``values`` send runs on to a wait of a fixed duration (not until a weekday
    on the customer's clock): its key and when it ends. The step then moves its runs
    straight into the wait, its record claimed, in the step's own transaction, as
    :func:`_wait` would one round later (a statement, a commit and a read fewer per set).
    """
    following = values.get("current_step")
    if values.get("state") != "running" or following is None:
        return None
    step = steps[index[following]]
    if step["type"] != "wait" or step.get("until"):
        return None
    return following, wait_until(step, utcnow(), None)


def _move(run_ids: Sequence[int], at_step: str | None, values: dict[str, Any]) -> set[int]:
    """Move on the runs still at ``at_step`` and unfinished; the ids moved. A run that
    left meanwhile (an exit committed by another process) is not moved: an exit wins
    over the step in flight, and the caller does nothing for it."""
    if not run_ids:
        return set()
    at = FlowRun.current_step.is_(None) if at_step is None else FlowRun.current_step == at_step
    return set(
        db.session.scalars(
            update(RUN)
            .where(among(RUN.c.id, run_ids), RUN.c.state.in_(UNFINISHED), at)
            .values(**values)
            .returning(RUN.c.id)
        )
    )


def _claim(run_ids: Sequence[int], key: str, status: str, detail: str | None = None) -> set[int]:
    """Insert the step's execution rows, skipping those that exist: the runs this job
    may act on (a duplicate job, or one that read the run before another committed,
    gets none). One INSERT ... SELECT of the runs (their ids the only parameters), in
    id order: concurrent claims of overlapping sets lock keys in one order."""
    if not run_ids:
        return set()
    runs = (
        select(
            RUN.c.id,
            literal(key),
            literal(status),
            literal(detail, EXECUTION.c.detail.type),
            literal(utcnow(), EXECUTION.c.created_at.type),
        )
        .where(among(RUN.c.id, sorted(run_ids)))
        .order_by(RUN.c.id)
    )
    claim = _insert_skipping(EXECUTION).from_select(
        ["run_id", "step_key", "status", "detail", "created_at"], runs
    )
    # the dialects' insert() puts ON CONFLICT after the SELECT, whose WHERE keeps SQLite
    # from reading the ON as a join's
    return set(db.session.scalars(claim.returning(EXECUTION.c.run_id)))


def _record(key: str, outcomes: dict[int, tuple[str, str | None, str | None, int | None]]) -> None:
    """Write each run's (status, detail, channel, message id) on its execution row: runs
    with the same outcome (a branch's true or false, an exit) in one UPDATE ... IN; runs
    whose message was queued in one UPDATE ... FROM the channel's messages, each row
    finding its message by its run (the messages just queued, by id)."""
    from app.messaging.delivery import channel_for

    if not outcomes:
        return
    shared: dict[tuple[str, str | None, str | None], list[int]] = {}
    queued: dict[tuple[str, str | None, str], list[int]] = {}
    for run_id, (s, d, c, m) in outcomes.items():
        if m is None or c is None:
            shared.setdefault((s, d or None, c), []).append(run_id)
        else:
            queued.setdefault((s, d or None, c), []).append(m)
    for (s, d, c), run_ids in shared.items():
        for part in _slices(sorted(run_ids)):
            db.session.execute(
                update(EXECUTION)
                .where(among(EXECUTION.c.run_id, part), EXECUTION.c.step_key == key)
                .values(status=s, detail=d, channel=c, message_id=None)
            )
    for (s, d, c), message_ids in queued.items():
        messages = channel_for(c).model.__table__
        for part in _slices(sorted(message_ids)):
            db.session.execute(
                update(EXECUTION)
                .where(
                    among(messages.c.id, part),
                    EXECUTION.c.run_id == messages.c.flow_run_id,
                    EXECUTION.c.step_key == key,
                )
                .values(status=s, detail=d, channel=c, message_id=messages.c.id)
            )


def _act(
    job: _Job,
    flow: Flow,
    step: dict[str, Any],
    runs: list[Any],
    steps: list[dict[str, Any]],
    index: dict[str, int],
) -> Going:
    """A step other than a wait or a list step, for a set of runs, in one transaction:
    claim, decide where each goes, move, act for the runs moved, record. A branch or an
    exit acts on nothing outside its runs, so its claim carries its outcome (decided
    first, for every run read) and nothing is recorded after."""
    kind, key = step["type"], step["key"]
    go: dict[int, Any] = {r.id: "next" for r in runs}
    if kind in ("branch", "exit"):
        outcome: dict[int, str | None] = {r.id: None for r in runs}
        if kind == "branch":
            holding = _holding(runs, step.get("condition") or {})
            for r in runs:
                go[r.id] = step.get("then", "next") if r.id in holding else step.get("else", "next")
                outcome[r.id] = "true" if r.id in holding else "false"
        else:
            go = {r.id: "exit" for r in runs}
        mine: set[int] = set()
        for detail in sorted({d or "" for d in outcome.values()}):
            ids = [i for i, d in outcome.items() if (d or "") == detail]
            mine |= _claim(ids, key, "done", detail or None)
    else:
        mine = _claim([r.id for r in runs], key, "running")
    runs = [r for r in runs if r.id in mine]
    if not runs:
        db.session.rollback()
        return []
    by_values: dict[tuple[Any, ...], list[int]] = {}
    for r in runs:
        by_values.setdefault((go[r.id],), []).append(r.id)
    moved: set[int] = set()
    going_on: Going = []
    for (where,), ids in by_values.items():
        values = _where_to(steps, index, step, where)
        wait = _fixed_wait_next(steps, index, values)
        if wait is not None:
            values = {"current_step": wait[0], "state": "waiting", "next_at": wait[1]}
        now_moved = _move(ids, key, values)
        moved |= now_moved
        if wait is not None and now_moved:
            _claim(sorted(now_moved), wait[0], "waiting")
            job.waking.setdefault(wait[1], []).extend(sorted(now_moved))
        elif values.get("state") == "running":
            going_on.extend((i, values["current_step"]) for i in sorted(now_moved))
    gone = mine - moved
    if gone:  # exited meanwhile: as if this job never took the step
        db.session.execute(
            delete(EXECUTION).where(among(EXECUTION.c.run_id, gone), EXECUTION.c.step_key == key)
        )
    runs = [r for r in runs if r.id in moved]
    outcomes: dict[int, tuple[str, str | None, str | None, int | None]]
    if kind in SEND_TYPES:
        outcomes = _send(job, kind, step, runs)
    elif kind in ("branch", "exit"):
        outcomes = {}  # claimed with their outcome
    elif kind in ("task", "tag", "field"):
        outcomes = {r.id: (*_customer_step(flow, r, step), None, None) for r in runs}
    else:
        outcomes = {r.id: ("skipped", f"unknown step {kind}", None, None) for r in runs}
    _record(key, outcomes)
    job.schedule_waits()
    db.session.commit()
    return going_on


def _customer_step(flow: Flow, run: Any, step: dict[str, Any]) -> tuple[str, str]:
    """A task, tag or field step for one customer (rare steps: per customer)."""
    kind = step["type"]
    customer = db.session.get_one(Customer, run.customer_id)
    if kind == "task":
        return _task(flow, customer, step)
    fields = dict(customer.custom_fields or {})
    if kind == "tag":
        tags = list(fields.get("tags") or [])
        tag = str(step["tag"]).strip()
        if tag not in tags:
            tags.append(tag)
        fields["tags"] = tags
        customer.custom_fields = fields
        return "done", tag
    fields[str(step["field"]).strip()] = step.get("value")
    customer.custom_fields = fields
    return "done", str(step["field"])


# --- sending ----------------------------------------------------------------------------


def _cap_since(channel: str, now: datetime | None) -> datetime | None:
    hours = int(current_app.config.get(f"FLOW_CAP_{channel.upper()}_HOURS") or 0)
    if hours <= 0:
        return None
    return (now or utcnow()) - timedelta(hours=hours)


def capped_among(
    channel: str, customer_ids: Sequence[int], now: datetime | None = None
) -> set[int]:
    """Which of these customers got a marketing message on ``channel`` (a campaign's or
    a flow's) within the cap window (FLOW_CAP_EMAIL_HOURS, FLOW_CAP_SMS_HOURS)."""
    from app.messaging.delivery import channel_for

    since = _cap_since(channel, now)
    if since is None or not customer_ids:
        return set()
    model = channel_for(channel).model
    found: set[int] = set()
    for part in _slices(list(customer_ids)):
        found.update(
            db.session.scalars(
                select(model.customer_id)
                .where(
                    among(model.customer_id, part),
                    or_(model.campaign_id.is_not(None), model.flow_run_id.is_not(None)),
                    model.status.not_in(NOT_SENT),
                    func.coalesce(model.sent_at, model.created_at) >= since,
                )
                .distinct()
            )
        )
    return found


def _send(
    job: _Job, channel: str, step: dict[str, Any], runs: list[Any]
) -> dict[int, tuple[str, str | None, str | None, int | None]]:
    """A send step for these runs: capped ones recorded, the others' messages created in
    bulk by the channel (no address or a template that cannot render: skipped)."""
    sender = sender_for(channel)
    if sender is None:
        return {
            r.id: ("skipped", f"the {channel} channel is not enabled", None, None) for r in runs
        }
    template = db.session.scalar(
        select(Template).where(
            Template.public_id == step.get("templateId"), Template.type == channel
        )
    )
    if template is None:
        return {r.id: ("skipped", "the template is gone", None, None) for r in runs}
    capped_ids = capped_among(channel, [r.customer_id for r in runs])
    outcomes: dict[int, tuple[str, str | None, str | None, int | None]] = {}
    wanted: list[tuple[int, int]] = []
    for r in runs:
        if r.customer_id in capped_ids:
            outcomes[r.id] = (
                "capped",
                f"a marketing {channel} went out within the cap window",
                None,
                None,
            )
        else:
            wanted.append((r.customer_id, r.id))
    queued = sender.queue_many(template, wanted) if wanted else {}
    for _customer_id, run_id in wanted:
        result = queued.get(run_id)
        if isinstance(result, int):
            outcomes[run_id] = ("sent", None, channel, result)
            job.messages.setdefault(channel, []).append(result)
        else:
            outcomes[run_id] = ("skipped", (result or f"no {channel} address")[:300], None, None)
    return outcomes


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


def _list_step_one(
    flow: Flow,
    run: Any,
    step: dict[str, Any],
    steps: list[dict[str, Any]],
    index: dict[str, int],
) -> tuple[bool, str | None]:
    """A list step for one run (the lists channel commits its own writes; adding or
    removing twice is harmless, so the action goes first and the record after).
    Whether the run goes on at once, and to which step."""
    key = step["key"]
    taken = db.session.scalar(
        select(FlowStepExecution.id).where(
            FlowStepExecution.run_id == run.id, FlowStepExecution.step_key == key
        )
    )
    if taken is not None:
        return False, None
    status, detail = _list_action(flow, run, step)
    db.session.add(FlowStepExecution(run_id=run.id, step_key=key, status=status, detail=detail))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False, None
    values = _where_to(steps, index, step, "next")
    if not _move([run.id], key, values):
        db.session.rollback()
        return False, None
    db.session.commit()
    return values.get("state") == "running", values.get("current_step")


def _list_action(flow: Flow, run: Any, step: dict[str, Any]) -> tuple[str, str]:
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


def _holding(runs: list[Any], condition: dict[str, Any]) -> set[int]:
    """The runs for which a branch's condition holds: what happened since each run's
    entry (clicked, replied, ordered) read for the whole set at once; a field test per
    customer from one query."""
    kind = condition.get("kind")
    if not runs:
        return set()
    since = {r.id: _aware(r.entered_at) for r in runs}
    earliest = min(since.values())
    now = utcnow() + timedelta(seconds=1)
    customer_ids = sorted({r.customer_id for r in runs})
    latest: dict[int, datetime] = {}  # customer -> the latest thing that happened
    if kind in ("clicked", "replied"):
        wanted = "email_click" if kind == "clicked" else "sms_reply"
        for source in sources():
            if source.kind != wanted:
                continue
            for part in _slices(customer_ids):
                for touch in source.touches(part, earliest, now):
                    at = _aware(touch.touched_at)
                    if touch.customer_id not in latest or at > latest[touch.customer_id]:
                        latest[touch.customer_id] = at
    elif kind == "ordered":
        for part in _slices(customer_ids):
            for customer_id, at in db.session.execute(
                select(Order.customer_id, func.max(Order.created_at))
                .where(among(Order.customer_id, part), Order.created_at >= earliest)
                .group_by(Order.customer_id)
            ):
                latest[customer_id] = _aware(at)
    elif kind == "field":
        values = _field_values(customer_ids, str(condition.get("field") or ""))
        expected = condition.get("equals")
        holding = set()
        for r in runs:
            value = values.get(r.customer_id)
            if expected is None:
                holds = value not in (None, "", [])
            else:
                holds = str(value).lower() == str(expected).lower()
            if holds:
                holding.add(r.id)
        return holding
    else:
        return set()
    return {r.id for r in runs if r.customer_id in latest and latest[r.customer_id] >= since[r.id]}


def _field_values(customer_ids: Sequence[int], name: str) -> dict[int, Any]:
    found: dict[int, Any] = {}
    builtin = name in ("account_type", "account_priority", "engagement_state")
    column = getattr(Customer, name) if builtin else Customer.custom_fields
    for part in _slices(list(customer_ids)):
        for customer_id, value in db.session.execute(
            select(Customer.id, column).where(among(Customer.id, part))
        ):
            found[customer_id] = value if builtin else (value or {}).get(name)
    return found


# --- waiting ----------------------------------------------------------------------------


def customer_zones(customer_ids: Sequence[int]) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for part in _slices(list(customer_ids)):
        for customer_id, own, territory in db.session.execute(
            select(Customer.id, CommunicationPreference.timezone, Territory.timezone)
            .select_from(Customer)
            .outerjoin(CommunicationPreference, CommunicationPreference.customer_id == Customer.id)
            .outerjoin(Territory, Territory.id == Customer.territory_id)
            .where(among(Customer.id, part))
        ):
            found[customer_id] = own or territory
    return found


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


def _wait(
    step: dict[str, Any], runs: list[_Run], steps: list[dict[str, Any]], index: dict[str, int]
) -> Going:
    """Runs arriving at a wait are recorded ``waiting`` and get one scheduled job per due
    time; runs found due move on in one guarded UPDATE (a duplicate or early job moves
    nothing). The ids of runs to go on at once."""
    key = step["key"]
    ids = [r.id for r in runs]
    existing = dict(
        db.session.execute(
            select(FlowStepExecution.run_id, FlowStepExecution.status).where(
                among(FlowStepExecution.run_id, ids), FlowStepExecution.step_key == key
            )
        ).all()
    )
    now = utcnow()
    going_on: Going = []
    due = [
        r.id
        for r in runs
        if existing.get(r.id) == "waiting" and (r.next_at is None or _aware(r.next_at) <= now)
    ]
    if due:
        values = _where_to(steps, index, step, "next")
        moved = _move(due, key, values)
        if moved:
            db.session.execute(
                update(EXECUTION)
                .where(
                    among(EXECUTION.c.run_id, moved),
                    EXECUTION.c.step_key == key,
                    EXECUTION.c.status == "waiting",
                )
                .values(status="passed")
            )
        db.session.commit()
        if values.get("state") == "running":
            going_on.extend((i, values["current_step"]) for i in sorted(moved))
    arriving = [r for r in runs if r.id not in existing]
    mine = _claim([r.id for r in arriving], key, "waiting")
    if not mine:
        db.session.rollback()
        return going_on
    zones = customer_zones([r.customer_id for r in arriving]) if step.get("until") else {}
    by_due: dict[datetime, list[int]] = {}
    for r in arriving:
        if r.id in mine:
            by_due.setdefault(wait_until(step, now, zones.get(r.customer_id)), []).append(r.id)
    for when, waiting in by_due.items():
        _move(waiting, key, {"state": "waiting", "next_at": when})
    db.session.commit()
    for when, waiting in by_due.items():
        _enqueue_runs(waiting, at=when)
    return going_on


# --- the watchdog -----------------------------------------------------------------------


def resume_runs() -> int:
    """Periodic: re-enqueue, a job per slice, runs of active flows whose job is overdue
    by FLOW_STALE_SECONDS (lost with a killed worker or a flushed Redis). Reads only
    unfinished runs that are due; a run whose job is merely late gets a second job,
    which the step records make harmless."""
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
        .limit(50 * SLICE)
    ).all()
    _enqueue_runs(ids)
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
    _enqueue_runs(ids)
    return len(ids)
