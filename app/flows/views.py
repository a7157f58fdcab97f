"""``/sales/marketing/flows``: the flows list and a flow's editor (a step list with
per-step counts), plain forms over :mod:`app.flows.service`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.crm.scoping import get_visible_customer
from app.errors import DomainError, NotFound
from app.extensions import db
from app.flows import service
from app.flows import steps as step_rules
from app.flows.dates import BUILTIN as BUILTIN_DATES
from app.flows.models import Flow
from app.flows.service import FlowInput
from app.messaging import audiences
from app.messaging.models import Template

bp = Blueprint("flows", __name__, url_prefix="/sales/marketing/flows", template_folder="templates")

TRIGGER_LABELS = {
    "manual": "Added by hand",
    "list_joined": "Joined a list",
    "order_placed": "Placed an order",
    "no_order": "No order in N days",
    "clicked": "Clicked a campaign (a person)",
    "sms_reply": "Replied by SMS (or a keyword)",
    "score_reached": "Engagement score reaches a threshold",
    "date_field": "A date field comes round (N days before/after)",
}
STEP_LABELS = {
    "email": "Send email", "sms": "Send SMS", "wait": "Wait", "branch": "Branch",
    "task": "Task for the rep", "tag": "Add a tag", "field": "Set a field",
    "list_add": "Add to a list", "list_remove": "Remove from a list", "exit": "Exit",
}  # fmt: skip


@bp.before_request
def _editors_only() -> None:
    if not current_user.is_authenticated or current_user.role not in service.EDITORS:
        abort(403)


def _flow_or_404(flow_id: str) -> Flow:
    try:
        return service.get(flow_id)
    except NotFound:
        abort(404)


def _choices() -> dict[str, Any]:
    templates = db.session.scalars(select(Template).order_by(Template.name)).all()
    return {
        "email_templates": [(t.public_id, t.name) for t in templates if t.type == "email"],
        "sms_templates": [(t.public_id, t.name) for t in templates if t.type == "sms"],
        "lists": audiences.writable_choices("list", current_user),
        "all_lists": audiences.choices("list", current_user),
        "trigger_labels": TRIGGER_LABELS,
        "step_labels": STEP_LABELS,
        "weekdays": step_rules.WEEKDAYS,
        "conditions": step_rules.CONDITIONS,
        "builtin_dates": BUILTIN_DATES,
    }


@bp.get("")
def index() -> ResponseReturnValue:
    flows = db.session.scalars(service.visible().limit(200)).all()
    return render_template(
        "flows/index.html", flows=[service.flow_json(f) for f in flows], form={}, errors={},
        **_choices(),
    )  # fmt: skip


def _trigger_config(form: Any) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if form.get("listId"):
        config["listId"] = form["listId"]
    if form.get("days"):
        try:
            config["days"] = int(form["days"])
        except ValueError:
            config["days"] = form["days"]
    if form.get("dateField"):  # a built-in date column, else the custom field typed
        config["field"] = form["dateField"]
    elif form.get("field"):
        config["field"] = form["field"]
    if form.get("dateMatch"):
        config["yearly"] = form["dateMatch"] != "once"
    if (form.get("offsetDays") or "").strip():
        try:
            config["offsetDays"] = int(form["offsetDays"])
        except ValueError:
            config["offsetDays"] = form["offsetDays"]
    if form.get("threshold"):
        try:
            config["threshold"] = int(form["threshold"])
        except ValueError:
            config["threshold"] = form["threshold"]
    if form.get("keyword"):
        config["keyword"] = form["keyword"]
    if form.get("campaignId"):
        config["campaignId"] = form["campaignId"]
    return config


def _settings_input(form: Any) -> FlowInput:
    days = (form.get("reentryDays") or "").strip()
    return FlowInput(
        name=form.get("name", ""),
        trigger_type=form.get("trigger") or None,
        trigger_config=_trigger_config(form),
        reentry=form.get("reentry") or None,
        reentry_days=int(days) if days.isdigit() else None,
        exit_on_order=form.get("exitOnOrder") == "on",
        exit_on_reply=form.get("exitOnReply") == "on",
        exit_on_opt_out=form.get("exitOnOptOut") == "on",
    )


@bp.post("")
def create() -> ResponseReturnValue:
    try:
        flow = service.create(current_user, _settings_input(request.form))
    except DomainError as exc:
        flows = db.session.scalars(service.visible().limit(200)).all()
        return render_template(
            "flows/index.html", flows=[service.flow_json(f) for f in flows],
            form=request.form, errors=exc.fields or {"name": exc.message}, **_choices(),
        ), 422  # fmt: skip
    flash("Flow created: add its steps, then activate it.")
    return redirect(url_for("flows.edit", flow_id=flow.public_id))


def _editor(flow: Flow, errors: dict[str, str] | None = None, step_form: Any = None) -> str:
    return render_template(
        "flows/edit.html", flow=service.flow_json(flow), errors=errors or {},
        step_form=step_form or {}, **_choices(),
    )  # fmt: skip


@bp.get("/<flow_id>")
def edit(flow_id: str) -> ResponseReturnValue:
    return _editor(_flow_or_404(flow_id))


@bp.post("/<flow_id>/settings")
def settings(flow_id: str) -> ResponseReturnValue:
    flow = _flow_or_404(flow_id)
    try:
        service.update(flow, current_user, _settings_input(request.form))
    except DomainError as exc:
        db.session.rollback()
        return _editor(flow, exc.fields or {"name": exc.message}), 422
    flash("Settings saved.")
    return redirect(url_for("flows.edit", flow_id=flow_id))


def _step_from(form: Any) -> dict[str, Any]:
    kind = form.get("type", "")
    step: dict[str, Any] = {"type": kind}
    number = {"days", "hours", "minutes", "dueInDays"}
    for name in ("templateId", "title", "tag", "field", "value", "listId", "then", "else"):
        if form.get(name):
            step[name] = form[name].strip()
    for name in number:
        raw = (form.get(name) or "").strip()
        if raw:
            step[name] = int(raw) if raw.isdigit() else raw
    if kind == "wait" and form.get("untilWeekday"):
        step["until"] = {"weekday": form["untilWeekday"], "time": form.get("untilTime", "")}
    if kind == "branch":
        step["condition"] = {"kind": form.get("conditionKind", "")}
        if form.get("conditionField"):
            step["condition"]["field"] = form["conditionField"].strip()
        if form.get("conditionEquals"):
            step["condition"]["equals"] = form["conditionEquals"].strip()
    if kind != "branch":
        step.pop("then", None)
        step.pop("else", None)
    if kind != "field":
        step.pop("value", None)
    return step


def _save_steps(flow: Flow, steps: list[dict[str, Any]]) -> None:
    service.update(flow, current_user, FlowInput(steps=steps))


@bp.post("/<flow_id>/steps")
def add_step(flow_id: str) -> ResponseReturnValue:
    flow = _flow_or_404(flow_id)
    steps = [{k: v for k, v in s.items() if k != "counts"} for s in service.current_steps(flow)]
    steps.append(_step_from(request.form))
    try:
        _save_steps(flow, steps)
    except DomainError as exc:
        db.session.rollback()
        fields = {
            k.replace(f"steps[{len(steps) - 1}].", "new."): v for k, v in exc.fields.items()
        } or {"new.type": exc.message}
        return _editor(flow, fields, request.form), 422
    flash("Step added.")
    return redirect(url_for("flows.edit", flow_id=flow_id))


@bp.post("/<flow_id>/steps/<key>/delete")
def delete_step(flow_id: str, key: str) -> ResponseReturnValue:
    flow = _flow_or_404(flow_id)
    steps = [s for s in service.current_steps(flow) if s["key"] != key]
    for step in steps:  # a branch pointing at the removed step goes on to the next
        for name in ("then", "else"):
            if step.get(name) == key:
                step[name] = "next"
    try:
        _save_steps(flow, steps)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.text(), "danger")
    else:
        flash("Step removed (runs in progress keep their version).")
    return redirect(url_for("flows.edit", flow_id=flow_id))


@bp.post("/<flow_id>/<action>")
def act(flow_id: str, action: str) -> ResponseReturnValue:
    flow = _flow_or_404(flow_id)
    try:
        if action == "activate":
            service.activate(flow, current_user)
            flash("The flow is active.")
        elif action == "pause":
            service.pause(flow, current_user)
            flash("The flow is paused: its runs wait where they are.")
        elif action == "add":
            customer = get_visible_customer(request.form.get("customerId", ""), current_user)
            service.add_customer(flow, current_user, customer)
            flash("Customer added to the flow.")
        else:
            abort(404)
    except DomainError as exc:
        db.session.rollback()
        return _editor(flow, exc.fields or {"status": exc.message}), 422
    return redirect(url_for("flows.edit", flow_id=flow_id))
