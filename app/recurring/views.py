"""Recurring campaign pages: the list, the form (a preset rule or a typed RRULE), and one
recurring campaign with its next occurrences (Skip, Edit) and those that came."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.campaigns import registry, zones
from app.errors import DomainError, Forbidden, NotFound
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import audiences
from app.messaging import templates as tpl
from app.recurring import service
from app.recurring.api import MANAGERS, parse_occurrence
from app.recurring.forms import (
    CUSTOM,
    PRESETS,
    ActionForm,
    OccurrenceForm,
    RecurringForm,
    describe,
)
from app.recurring.models import RecurringCampaign
from app.recurring.service import Spec

bp = Blueprint(
    "recurring", __name__, url_prefix="/sales/marketing/recurring", template_folder="templates"
)
#: service field names -> this form's
ALIASES = {
    "featured.rule": "featured_rule",
    "featured.count": "featured_count",
    "featured.varietal": "featured_varietal",
    "timeZone": "time_zone",
    "startsAt": "start_date",
    "createdBy": "name",
}


@bp.before_request
def managers_only() -> None:
    if current_user.role not in MANAGERS:
        raise Forbidden("Only managers and admins run recurring campaigns")


@bp.app_template_filter("rule_words")
def rule_words(rule: str) -> str:
    return describe(rule)


def _get(recurring_id: str) -> RecurringCampaign:
    try:
        return service.get(recurring_id)
    except NotFound:
        abort(404)


@bp.get("")
def index() -> str:
    items = list(db.session.scalars(service.visible()))
    return render_template("recurring/index.html", items=items, action_form=ActionForm())


def _prepare(form: RecurringForm) -> None:
    tpl.ensure_defaults()
    if "channel" in form:
        form.channel.choices = [(n, c.label) for n, c in registry.channels().items()]
    form.list_id.choices = [("", "— choose a list —")] + audiences.choices("list", current_user)
    form.template_id.choices = [("", "— write your own —")] + [
        (t.public_id, f"{t.name} ({t.type})") for t in db.session.scalars(tpl.templates_query())
    ]
    if not form.time_zone.data:
        form.time_zone.data = zones.user_zone(current_user)


def _combine(form: RecurringForm) -> datetime | None:
    day, clock = form.start_date.data, form.time_of_day.data
    return datetime.combine(day, clock) if day is not None and clock is not None else None


def _spec(form: RecurringForm, new: bool) -> Spec:
    featured = None
    if form.featured_rule.data:
        featured = {
            "rule": form.featured_rule.data,
            "count": form.featured_count.data or 3,
            "varietal": form.featured_varietal.data or None,
        }
    return Spec(
        name=form.name.data,
        channel=form.channel.data if new else service.UNSET,
        list_id=form.list_id.data,
        template_id=form.template_id.data or None,
        subject=form.subject.data or None,
        html=form.html.data or None,
        body=form.body.data or None,
        rule=form.chosen_rule(),
        starts_at=_combine(form),
        time_zone=form.time_zone.data,
        send_local_time=bool(form.send_local_time.data),
        featured=featured,
    )


def _form_page(form: RecurringForm, rec: RecurringCampaign | None) -> Any:
    page = render_template("recurring/form.html", form=form, rec=rec, zone_names=zones.zone_names())
    return page, (422 if request.method == "POST" else 200)


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    form = RecurringForm()
    _prepare(form)
    if form.validate_on_submit():
        try:
            rec = service.create(current_user, _spec(form, new=True))
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash(f"“{rec.name}” is on: its first campaign is created before it is due.")
            return redirect(url_for("recurring.detail", recurring_id=rec.public_id))
    return _form_page(form, None)


def _fill(form: RecurringForm, rec: RecurringCampaign) -> None:
    form.name.data, form.list_id.data = rec.name, rec.list_id
    form.template_id.data = service.template_public_id(rec) or ""
    form.subject.data, form.html.data, form.body.data = rec.subject, rec.html, rec.body
    known = {value for value, _label in PRESETS}
    form.preset.data = rec.rule if rec.rule in known else CUSTOM
    form.rule.data = rec.rule if rec.rule not in known else ""
    form.start_date.data, form.time_of_day.data = rec.starts_at.date(), rec.starts_at.time()
    form.time_zone.data, form.send_local_time.data = rec.timezone, rec.send_local_time
    featured = rec.featured or {}
    form.featured_rule.data = featured.get("rule") or ""
    form.featured_count.data = featured.get("count") or 3
    form.featured_varietal.data = featured.get("varietal") or ""


@bp.route("/<recurring_id>/edit", methods=["GET", "POST"])
def edit(recurring_id: str) -> Any:
    rec = _get(recurring_id)
    form = RecurringForm()
    _prepare(form)
    del form.channel  # fixed once created
    if request.method == "GET":
        _fill(form, rec)
    elif form.validate_on_submit():
        try:
            service.update(rec, current_user, _spec(form, new=False))
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash("Saved: the next occurrences follow the change.", "success")
            return redirect(url_for("recurring.detail", recurring_id=recurring_id))
    return _form_page(form, rec)


@bp.get("/<recurring_id>")
def detail(recurring_id: str) -> str:
    rec = _get(recurring_id)
    return render_template(
        "recurring/detail.html",
        rec=rec,
        upcoming=service.upcoming(rec),
        history=service.history(rec),
        template_id=service.template_public_id(rec),
        action_form=ActionForm(),
        show=lambda when: zones.show(when, rec.timezone),
    )


@bp.post("/<recurring_id>/<action>")
def action(recurring_id: str, action: str) -> Any:
    if action not in ("pause", "resume"):
        abort(404)
    rec = _get(recurring_id)
    if ActionForm().validate_on_submit():
        service.set_status(rec, action)
        flash("Paused: no campaign is created until you resume." if action == "pause" else
              "Resumed from the next occurrence to come.", "success")  # fmt: skip
    return redirect(url_for("recurring.detail", recurring_id=recurring_id))


@bp.route("/<recurring_id>/delete", methods=["GET", "POST"])
def delete(recurring_id: str) -> Any:
    """A confirmation page, then the deletion (campaigns already created stay)."""
    rec = _get(recurring_id)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        name = rec.name
        service.delete(rec)
        flash(f"“{name}” deleted; the campaigns it created stay.", "success")
        return redirect(url_for("recurring.index"))
    return render_template("recurring/confirm_delete.html", rec=rec, action_form=form)


def _when(value: str) -> datetime:
    try:
        return parse_occurrence(value)
    except DomainError:
        abort(404)


@bp.post("/<recurring_id>/occurrences/<occurs_at>/<choice>")
def skip(recurring_id: str, occurs_at: str, choice: str) -> Any:
    if choice not in ("skip", "unskip"):
        abort(404)
    rec = _get(recurring_id)
    if ActionForm().validate_on_submit():
        try:
            service.skip(rec, _when(occurs_at), choice == "skip")
            flash("Skipped." if choice == "skip" else "It will go out again.", "success")
        except DomainError as exc:
            db.session.rollback()
            flash(exc.text(), "danger")
    return redirect(url_for("recurring.detail", recurring_id=recurring_id))


@bp.route("/<recurring_id>/occurrences/<occurs_at>/edit", methods=["GET", "POST"])
def edit_occurrence(recurring_id: str, occurs_at: str) -> Any:
    rec = _get(recurring_id)
    when = _when(occurs_at)
    form = OccurrenceForm()
    status = 200
    if request.method == "GET":
        row = service.find_row(rec, when)
        if row is not None:
            form.subject.data, form.html.data, form.body.data = row.subject, row.html, row.body
    elif form.validate_on_submit():
        try:
            service.edit(
                rec, when, subject=form.subject.data, html=form.html.data, body=form.body.data
            )
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc)
            status = 422
        else:
            flash("This occurrence has its own message now.", "success")
            return redirect(url_for("recurring.detail", recurring_id=recurring_id))
    else:
        status = 422
    page = render_template(
        "recurring/occurrence.html",
        rec=rec,
        form=form,
        when=when,
        occurs_at=occurs_at,
        local=zones.show(when, rec.timezone),
    )
    return page, status
