"""Pages: /settings/marketing (providers, Mailchimp connect/sync) and campaign pages."""

from __future__ import annotations

import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from app.auth.access import role_required
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import audiences as audience_registry
from app.messaging.models import Template
from blueprints.mailchimp import campaigns, imports, services, sync
from blueprints.mailchimp.client import get_connection
from blueprints.mailchimp.forms import ActionForm, CampaignForm, ConnectForm, ImportForm, SyncForm
from blueprints.mailchimp.models import MailchimpCampaign
from providers import mailchimp as mc

bp = Blueprint("mailchimp", __name__, template_folder="templates")
#: The settings page's script, served under /static/mailchimp/ (public, like other assets).
assets = Blueprint(
    "mailchimp_assets", __name__, static_folder="static", static_url_path="/static/mailchimp"
)
MANAGERS = ("admin", "manager")
STATE_KEY = "mailchimp_oauth_state"


@bp.before_request
@role_required(*MANAGERS)
def _managers_only() -> None:
    return None


def _error_text(exc: DomainError) -> str:
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return f"{exc.message} ({details})" if details else exc.message


def _redirect_uri() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return base + url_for("mailchimp.oauth_callback")


@bp.get("/settings/marketing")
def settings(
    connect_form: ConnectForm | None = None,
    sync_form: SyncForm | None = None,
    campaign_form: CampaignForm | None = None,
):
    """The settings page; a refused form is passed back in to show what was typed and why."""
    conn = get_connection()
    audiences: list[mc.Audience] = []
    audience_error = None
    if conn is not None:
        try:
            audiences = services.list_audiences()
        except DomainError as exc:
            audience_error = _error_text(exc)
    sync_form = sync_form or SyncForm(formdata=None)
    sync_form.audience_id.choices = [(a.id, f"{a.name} ({a.member_count})") for a in audiences]
    campaign_form = campaign_form or CampaignForm(formdata=None)
    all_syncs = services.syncs()
    campaign_form.sync_id.choices = [
        (x.public_id, f"{services.list_label(x, current_user)} → {x.audience_name}")
        for x in all_syncs
    ]
    templates = db.session.scalars(
        select(Template).where(Template.type == "email").order_by(Template.name)
    )
    campaign_form.template_id.choices = [(t.public_id, t.name) for t in templates]
    return render_template(
        "mailchimp/settings.html",
        status=services.status_json(),
        providers={
            "Email": current_app.config.get("EMAIL_PROVIDER") or "console",
            "SMS": current_app.config.get("SMS_PROVIDER") or "console",
        },
        oauth_enabled=bool(current_app.config.get("MAILCHIMP_CLIENT_ID")),
        connect_form=connect_form or ConnectForm(formdata=None),
        action_form=ActionForm(),
        sync_form=sync_form,
        campaign_form=campaign_form,
        syncs=[(x, services.list_label(x, current_user)) for x in all_syncs],
        campaigns=[
            (c, campaigns.display_subject(c))
            for c in db.session.scalars(
                select(MailchimpCampaign).order_by(MailchimpCampaign.id.desc()).limit(50)
            )
        ],
        audience_error=audience_error,
        lists_url=_lists_api_url(),
    )


def _lists_api_url() -> str:
    """The lists channel's public API (by endpoint name; no import), when it is enabled."""
    if "lists_api.list_lists" in current_app.view_functions:
        return url_for("lists_api.list_lists")
    return ""


@bp.post("/settings/marketing/mailchimp/connect")
def connect():
    form = ConnectForm()
    if not form.validate_on_submit():
        return settings(connect_form=form), 422
    try:
        conn = services.connect_api_key(form.api_key.data or "", current_user)
    except DomainError as exc:
        add_api_error(form, exc, {"apiKey": "api_key"})
        return settings(connect_form=form), exc.status
    flash(f"Connected to Mailchimp account {conn.account_name}.", "success")
    return redirect(url_for("mailchimp.settings"))


@bp.post("/settings/marketing/mailchimp/disconnect")
def disconnect():
    if ActionForm().validate_on_submit() and services.disconnect():
        flash("Mailchimp disconnected; the key was erased.", "success")
    return redirect(url_for("mailchimp.settings"))


@bp.get("/settings/marketing/mailchimp/oauth/start")
def oauth_start():
    client_id = current_app.config.get("MAILCHIMP_CLIENT_ID")
    if not client_id:
        abort(404)
    state = secrets.token_urlsafe(24)
    session[STATE_KEY] = state  # the session cookie is signed with SECRET_KEY
    return redirect(
        mc.authorize_url(
            client_id,
            _redirect_uri(),
            state,
            authorize_url=current_app.config["MAILCHIMP_OAUTH_AUTHORIZE_URL"],
        )
    )


@bp.get("/settings/marketing/mailchimp/oauth/callback")
def oauth_callback():
    expected = session.pop(STATE_KEY, None)
    state = request.args.get("state", "")
    if not expected or not secrets.compare_digest(expected, state):
        flash("Mailchimp sign-in expired or was tampered with; try again.", "danger")
        return redirect(url_for("mailchimp.settings"))
    if request.args.get("error") or not request.args.get("code"):
        flash(f"Mailchimp sign-in was refused: {request.args.get('error', 'no code')}", "danger")
        return redirect(url_for("mailchimp.settings"))
    try:
        conn = services.connect_oauth(request.args["code"], _redirect_uri(), current_user)
        flash(f"Connected to Mailchimp account {conn.account_name}.", "success")
    except DomainError as exc:
        flash(_error_text(exc), "danger")
    return redirect(url_for("mailchimp.settings"))


@bp.post("/settings/marketing/mailchimp/sync")
def start_sync():
    form = SyncForm()
    form.audience_id.choices = [(request.form.get("audience_id", ""), "")]
    if not form.validate_on_submit():
        return settings(sync_form=form), 422
    hours = form.frequency_hours.data
    try:
        item = services.create_or_update_sync(
            current_user,
            (form.list_id.data or "").strip(),
            form.audience_id.data or "",
            hours * 3600 if hours else None,
        )
        sync.start(item)
    except DomainError as exc:
        add_api_error(form, exc, {"frequencySeconds": "frequency_hours"})
        return settings(sync_form=form), exc.status
    db.session.refresh(item)
    flash(_sync_message(item), "danger" if item.status == "error" else "success")
    return redirect(url_for("mailchimp.settings"))


def _sync_message(item: Any) -> str:
    if item.status == "error":
        return f"Sync failed: {item.last_error}"
    return f"Sync {item.status}: {item.progress_done}/{item.progress_total} members."


@bp.post("/settings/marketing/mailchimp/sync/<sync_id>/run")
def run_sync(sync_id: str):
    item = services.get_sync(sync_id)
    if item is None:
        abort(404)
    if ActionForm().validate_on_submit():
        sync.start(item)
        db.session.refresh(item)
        flash(_sync_message(item), "danger" if item.status == "error" else "success")
    return redirect(url_for("mailchimp.settings"))


@bp.post("/sales/marketing/mailchimp/campaigns")
def create_campaign():
    form = CampaignForm()
    form.sync_id.choices = [(request.form.get("sync_id", ""), "")]
    form.template_id.choices = [(request.form.get("template_id", ""), "")]
    if not form.validate_on_submit():
        return settings(campaign_form=form), 422
    try:
        item = campaigns.create(current_user, form.sync_id.data or "", form.template_id.data or "")
        if form.send_now.data:
            campaigns.send_now(item, current_user)
    except DomainError as exc:
        add_api_error(form, exc)
        return settings(campaign_form=form), exc.status
    return redirect(url_for("mailchimp.campaign", campaign_id=item.public_id))


def _campaign_or_404(campaign_id: str) -> MailchimpCampaign:
    item = campaigns.get_campaign(campaign_id)
    if item is None:
        abort(404)
    return item


@bp.get("/sales/marketing/mailchimp/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    item = _campaign_or_404(campaign_id)
    return render_template(
        "mailchimp/campaign.html",
        campaign=item,
        data=campaigns.campaign_json(item),
        members=campaigns.member_results(item),
        action_form=ActionForm(),
    )


@bp.post("/sales/marketing/mailchimp/campaigns/<campaign_id>/<action>")
def campaign_action(campaign_id: str, action: str):
    item = _campaign_or_404(campaign_id)
    if action not in ("send", "report") or not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "send":
            campaigns.send_now(item, current_user)
            flash("Campaign sent through Mailchimp.", "success")
        else:
            campaigns.pull_report(item.id)
            flash("Report updated.", "success")
    except DomainError as exc:
        flash(_error_text(exc), "danger")
    return redirect(url_for("mailchimp.campaign", campaign_id=campaign_id))


@bp.get("/settings/marketing/mailchimp/import")
def import_page():
    """Pick an audience and a CRM list; recent imports with their progress and result."""
    form = ImportForm()
    audience_error = None
    try:
        form.audience_id.choices = [
            (a.id, f"{a.name} ({a.member_count})") for a in services.list_audiences()
        ]
    except DomainError as exc:  # not connected, or Mailchimp unreachable: the page says so
        audience_error = _error_text(exc)
    form.list_id.choices = audience_registry.choices("list", current_user)
    items = imports.recent()
    return render_template(
        "mailchimp/import.html",
        form=form,
        imports=[(x, services.list_label_of(x.list_ref, current_user)) for x in items],
        running=any(x.status in ("queued", "running") for x in items),
        audience_error=audience_error,
    )


@bp.post("/settings/marketing/mailchimp/import")
def start_import():
    form = ImportForm()
    form.audience_id.choices = [(request.form.get("audience_id", ""), "")]
    form.list_id.choices = [(request.form.get("list_id", ""), "")]
    if not form.validate_on_submit():
        flash("Choose an audience and a CRM list.", "danger")
        return redirect(url_for("mailchimp.import_page"))
    try:
        item = imports.start(current_user, form.audience_id.data or "", form.list_id.data or "")
        flash(_import_message(item), "danger" if item.status == "error" else "success")
    except DomainError as exc:
        flash(_error_text(exc), "danger")
    return redirect(url_for("mailchimp.import_page"))


def _import_message(item: Any) -> str:
    if item.status == "error":
        return f"Import failed: {item.last_error}"
    if item.status == "done":
        return (
            f"Imported {item.audience_name}: {item.matched} matched, {item.added} added to the "
            f"list, {item.unmatched} addresses match no customer."
        )
    return f"Import {item.status}: {item.progress_done}/{item.progress_total} members."
