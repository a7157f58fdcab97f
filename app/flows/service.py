"""Flows as managers handle them: create, edit (a new version), activate, pause, add a
customer by hand, and what each step did. Raises the core's domain errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Select, func, select

from app.crm.models import Customer
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.flows import engine
from app.flows import steps as step_rules
from app.flows.dates import BUILTIN as BUILTIN_DATES
from app.flows.dates import custom_field_in_use
from app.flows.models import Flow, FlowRun, FlowStepExecution, FlowVersion
from app.messaging.models import Campaign, Template
from app.models_base import utcnow

EDITORS = ("manager", "admin")


@dataclass
class FlowInput:
    """What a manager gave (the API's or the page's fields, snake_case)."""

    name: str | None = None
    trigger_type: str | None = None
    trigger_config: dict[str, Any] = field(default_factory=dict)
    reentry: str | None = None
    reentry_days: int | None = None
    exit_on_order: bool | None = None
    exit_on_reply: bool | None = None
    exit_on_opt_out: bool | None = None
    steps: list[dict[str, Any]] | None = None


def require_editor(user: Any) -> None:
    if getattr(user, "role", None) not in EDITORS:
        raise Forbidden("Only managers and admins work on flows")


def visible() -> Select[Any]:
    return select(Flow).order_by(Flow.id.desc())


def get(public_id: str) -> Flow:
    flow = db.session.scalar(select(Flow).where(Flow.public_id == public_id))
    if flow is None:
        raise NotFound("No such flow")
    return flow


def current_steps(flow: Flow) -> list[dict[str, Any]]:
    return engine.steps_of(flow.id, flow.version)


def _checked(flow: Flow, given: FlowInput) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    name = (given.name if given.name is not None else flow.name or "").strip()
    if not name:
        raise Invalid("name the flow", {"name": "required"})
    if len(name) > 120:
        raise Invalid("name too long", {"name": "at most 120 characters"})
    trigger_type = given.trigger_type or flow.trigger_type
    if trigger_type is None:
        raise Invalid("choose a trigger", {"trigger": "required"})
    config = step_rules.check_trigger(
        trigger_type,
        given.trigger_config if given.trigger_type is not None else flow.trigger_config or {},
    )
    watched = str(config.get("field") or "")
    dated = trigger_type == "date_field" and watched not in BUILTIN_DATES
    if dated and not custom_field_in_use(watched):
        raise Invalid(
            "unknown date field",
            {
                "trigger.field": f"no customer has a custom field {watched!r}; use one of "
                f"{', '.join(BUILTIN_DATES)} or a custom field your customers hold"
            },
        )
    if config.get("campaignId"):
        campaign_pk = db.session.scalar(
            select(Campaign.id).where(Campaign.public_id == config["campaignId"])
        )
        if campaign_pk is None:
            raise Invalid("unknown campaign", {"trigger.campaignId": "no such campaign"})
        config["campaign"] = campaign_pk
    reentry = given.reentry or flow.reentry or "never"
    if reentry not in ("never", "after"):
        raise Invalid("bad re-entry rule", {"reentry": "never or after"})
    days = given.reentry_days if given.reentry_days is not None else flow.reentry_days
    if reentry == "after" and (days is None or not 1 <= days <= 3650):
        raise Invalid("after how many days?", {"reentryDays": "a whole number of days, 1-3650"})
    steps = step_rules.normalise(given.steps) if given.steps is not None else None
    loops = step_rules.loop_fields(
        trigger_type, config, steps if steps is not None else current_steps(flow)
    )
    if loops:
        raise Invalid("this flow would trigger itself", loops, code="flow_loop")
    values = {
        "name": name,
        "trigger_type": trigger_type,
        "trigger_config": config,
        "reentry": reentry,
        "reentry_days": days if reentry == "after" else None,
    }
    for flag in ("exit_on_order", "exit_on_reply", "exit_on_opt_out"):
        chosen = getattr(given, flag)
        if chosen is not None:
            values[flag] = bool(chosen)
    return values, steps


def create(user: Any, given: FlowInput) -> Flow:
    require_editor(user)
    flow = Flow(
        status="draft",
        version=1,
        created_by_id=user.id,
        exit_on_order=False,
        exit_on_reply=False,
        exit_on_opt_out=True,
        reentry="never",
    )
    values, steps = _checked(flow, given)
    for name, value in values.items():
        setattr(flow, name, value)
    db.session.add(flow)
    db.session.flush()
    db.session.add(FlowVersion(flow_id=flow.id, number=1, steps=steps or []))
    db.session.commit()
    return flow


def update(flow: Flow, user: Any, given: FlowInput) -> Flow:
    """Edit a flow; new steps make a new version (runs in progress keep theirs)."""
    require_editor(user)
    values, steps = _checked(flow, given)
    if flow.status == "active" and steps is not None:
        missing = _activation_problems(flow, values, steps)
        if missing:
            raise Invalid("an active flow's steps must be complete", missing)
    for name, value in values.items():
        setattr(flow, name, value)
    if steps is not None and steps != current_steps(flow):
        flow.version += 1
        db.session.add(FlowVersion(flow_id=flow.id, number=flow.version, steps=steps))
    db.session.commit()
    return flow


def _activation_problems(
    flow: Flow, values: dict[str, Any], steps: list[dict[str, Any]]
) -> dict[str, str]:
    problems = step_rules.missing_content(steps)
    for i, step in enumerate(steps):
        if step["type"] in step_rules.SEND_TYPES and step.get("templateId"):
            found = db.session.scalar(
                select(Template.id).where(
                    Template.public_id == step["templateId"], Template.type == step["type"]
                )
            )
            if found is None:
                problems[f"steps[{i}].templateId"] = f"no {step['type']} template has this id"
    problems.update(step_rules.loop_fields(values["trigger_type"], values["trigger_config"], steps))
    return problems


def activate(flow: Flow, user: Any) -> Flow:
    """Start (or resume) a flow: refused, naming each field, while a step lacks content."""
    require_editor(user)
    values = {"trigger_type": flow.trigger_type, "trigger_config": flow.trigger_config or {}}
    problems = _activation_problems(flow, values, current_steps(flow))
    if problems:
        raise Invalid("the flow cannot start: some steps are incomplete", problems)
    flow.status = "active"
    flow.activated_at = flow.activated_at or utcnow()
    db.session.commit()
    engine.wake_flow(flow.id)
    return flow


def pause(flow: Flow, user: Any) -> Flow:
    """Runs stop where they are (no entries, no steps) until the flow is activated."""
    require_editor(user)
    if flow.status != "active":
        raise Conflict(f"the flow is {flow.status}, not active", {"status": flow.status})
    flow.status = "paused"
    db.session.commit()
    return flow


def add_customer(flow: Flow, user: Any, customer: Customer | None) -> FlowRun:
    """Put a customer into an active flow by hand (re-entry rules apply)."""
    require_editor(user)
    if customer is None:
        raise Invalid("unknown customer", {"customerId": "no such customer"})
    if flow.status != "active":
        raise Conflict("activate the flow first", {"status": f"the flow is {flow.status}"})
    run = engine.enter(flow, customer.id)
    if run is None:
        raise Conflict(
            "the customer is in this flow, or its re-entry rule keeps them out",
            {"customerId": "already in the flow, or not yet allowed back in"},
        )
    db.session.refresh(run)
    return run


# --- reading ----------------------------------------------------------------------------


def step_counts(flow: Flow) -> dict[str, dict[str, int]]:
    """Per step key, across versions: passed (done, sent, capped, skipped or waited),
    waiting there now, and exited there."""
    counts: dict[str, dict[str, int]] = {}

    def slot(key: str) -> dict[str, int]:
        return counts.setdefault(key, {"passed": 0, "waiting": 0, "exited": 0, "capped": 0})

    runs = select(FlowRun.id).where(FlowRun.flow_id == flow.id)
    for key, status, n in db.session.execute(
        select(FlowStepExecution.step_key, FlowStepExecution.status, func.count())
        .where(FlowStepExecution.run_id.in_(runs))
        .group_by(FlowStepExecution.step_key, FlowStepExecution.status)
    ):
        if status == "waiting":
            continue  # counted from the runs below (an exited run's wait is not waiting)
        if status != "running":
            slot(key)["passed"] += n
        if status == "capped":
            slot(key)["capped"] += n
    for current, state, n in db.session.execute(
        select(FlowRun.current_step, FlowRun.state, func.count())
        .where(FlowRun.flow_id == flow.id, FlowRun.state.in_(("waiting", "exited")))
        .group_by(FlowRun.current_step, FlowRun.state)
    ):
        if current is not None:
            slot(current)["waiting" if state == "waiting" else "exited"] += n
    return counts


def step_revenue(flow: Flow) -> dict[str, dict[str, float | int]]:
    """Per step key: orders attributed (last touch) to the messages that step sent, and
    their revenue. One grouped query per channel that sent; each order has one attributed
    touch, so no order counts twice across steps."""
    from app.attribution.models import ATTRIBUTED, OrderTouch
    from app.crm.models import Order
    from app.messaging.delivery import channel_for

    out: dict[str, dict[str, float | int]] = {}
    channels = db.session.scalars(
        select(FlowStepExecution.channel)
        .join(FlowRun, FlowRun.id == FlowStepExecution.run_id)
        .where(FlowRun.flow_id == flow.id, FlowStepExecution.message_id.is_not(None))
        .distinct()
    ).all()
    for channel in channels:
        if channel is None:
            continue
        try:
            model = channel_for(channel).model
        except LookupError:
            continue  # a channel since disabled: its messages cannot be read
        rows = db.session.execute(
            select(
                FlowStepExecution.step_key,
                func.count(func.distinct(Order.id)),
                func.coalesce(func.sum(Order.total), 0),
            )
            .join(FlowRun, FlowRun.id == FlowStepExecution.run_id)
            .join(model, model.id == FlowStepExecution.message_id)
            .join(
                OrderTouch,
                (OrderTouch.message_ref == model.public_id)
                & (OrderTouch.channel == channel)
                & (OrderTouch.role == ATTRIBUTED),
            )
            .join(Order, Order.id == OrderTouch.order_id)
            .where(FlowRun.flow_id == flow.id, FlowStepExecution.channel == channel)
            .group_by(FlowStepExecution.step_key)
        ).all()
        for key, orders, revenue in rows:
            slot = out.setdefault(key, {"orders": 0, "revenue": 0.0})
            slot["orders"] = int(slot["orders"]) + int(orders)
            slot["revenue"] = round(float(slot["revenue"]) + float(revenue or 0), 2)
    return out


def run_counts(flow: Flow) -> dict[str, int]:
    out = {"running": 0, "waiting": 0, "done": 0, "exited": 0}
    for state, n in db.session.execute(
        select(FlowRun.state, func.count())
        .where(FlowRun.flow_id == flow.id)
        .group_by(FlowRun.state)
    ):
        out[state] = n
    return out


def flow_json(flow: Flow) -> dict[str, Any]:
    counts = step_counts(flow)
    revenue = step_revenue(flow)
    config = {k: v for k, v in (flow.trigger_config or {}).items() if k != "campaign"}
    return {
        "id": flow.public_id,
        "name": flow.name,
        "status": flow.status,
        "trigger": {"type": flow.trigger_type, **config},
        "reentry": flow.reentry,
        "reentryDays": flow.reentry_days,
        "exitOnOrder": flow.exit_on_order,
        "exitOnReply": flow.exit_on_reply,
        "exitOnOptOut": flow.exit_on_opt_out,
        "version": flow.version,
        "steps": [
            {
                **step,
                "counts": {
                    **counts.get(
                        step["key"], {"passed": 0, "waiting": 0, "exited": 0, "capped": 0}
                    ),
                    **revenue.get(step["key"], {"orders": 0, "revenue": 0.0}),
                },
            }
            for step in current_steps(flow)
        ],
        "runs": run_counts(flow),
        "createdAt": flow.created_at.isoformat() if flow.created_at else None,
        "activatedAt": flow.activated_at.isoformat() if flow.activated_at else None,
    }


def runs_of(flow: Flow, state: str | None = None) -> Select[Any]:
    stmt = cast(
        "Select[Any]",
        select(FlowRun, Customer.public_id, Customer.name)
        .join(Customer, Customer.id == FlowRun.customer_id)
        .where(FlowRun.flow_id == flow.id)
        .order_by(FlowRun.id.desc()),
    )
    if state:
        stmt = stmt.where(FlowRun.state == state)
    return stmt


def run_json(row: Any) -> dict[str, Any]:
    run, customer_id, customer_name = row
    return {
        "id": run.public_id,
        "customerId": customer_id,
        "customerName": customer_name,
        "version": run.version,
        "entry": run.entry_no,
        "state": run.state,
        "step": run.current_step,
        "nextAt": run.next_at.isoformat() if run.next_at else None,
        "enteredAt": run.entered_at.isoformat() if run.entered_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "exitReason": run.exit_reason,
    }
