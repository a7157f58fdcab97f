"""Pages: campaigns (progress, stats, chart) and the customer page's "Send email" panel
(the template pages are core: :mod:`app.templates_admin`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.crm import panels
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.crm.views import customer_page
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error, add_error
from app.messaging import audiences
from app.messaging import templates as tpl
from blueprints.email import charts, services
from blueprints.email.forms import ActionForm, CampaignForm, SendEmailForm

bp = Blueprint("email", __name__, url_prefix="/sales/marketing", template_folder="templates")
assets = Blueprint(
    "email_assets", __name__, static_folder="static", static_url_path="/static/email"
)


# --- customer panel ------------------------------------------------------------------------


def _template_choices() -> list[tuple[str, str]]:
    return [("", "— write your own —")] + [
        (t.public_id, t.name) for t in db.session.scalars(tpl.templates_query("email"))
    ]


def panel_context(customer: Customer) -> dict[str, Any]:
    """The "Send email" form: blank, or the one just refused with what was typed."""
    tpl.ensure_defaults()
    form = panels.kept_form("email") or SendEmailForm(formdata=None)
    form.template_id.choices = _template_choices()
    return {"form": form, "customer": customer}


def _refused(customer: Customer, form: SendEmailForm, status: int):
    """The customer page again, this form keeping what was typed and saying why."""
    panels.keep_form("email", form)
    return customer_page(customer, status)


@bp.post("/email/send/<customer_id>")
def send_from_customer(customer_id: str):
    """Send from the customer page. Sent: back to the page. Refused or failed: the page
    again with the form as typed and each problem beside its field."""
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        abort(404)
    form = SendEmailForm()
    if not form.validate_on_submit():  # CSRF was checked before the view: these are fields
        return _refused(customer, form, 422)
    try:
        message = services.send_single(
            current_user,
            to=customer.email or "",
            customer_id=customer.public_id,
            template_id=form.template_id.data or None,
            subject=form.subject.data or None,
            html=form.html.data or None,
        )
    except DomainError as exc:
        add_api_error(form, exc)
        return _refused(customer, form, exc.status)
    if message.status == "failed":
        add_error(form, None, f"Email failed: {message.error_message} [{message.error_code}]")
        return _refused(customer, form, 200)
    flash(f"Email to {message.to_address}: {message.status}.", "success")
    return redirect(url_for("crm.customer", customer_id=customer.public_id))


# --- campaigns ----------------------------------------------------------------------------


@bp.get("/campaigns")
def campaigns():
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    pagination = db.paginate(
        services.visible_campaigns(current_user, None), page=page, per_page=25, error_out=False
    )
    return render_template("email/campaigns.html", pagination=pagination, services=services)


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new_campaign():
    """A campaign to a list, from a template or written here, now or at a time. A refused
    submit shows the form again as typed, each problem beside its field (422)."""
    tpl.ensure_defaults()
    form = CampaignForm()
    form.list_id.choices = [("", "— choose a list —")] + audiences.choices("list", current_user)
    form.template_id.choices = _template_choices()
    if form.validate_on_submit():
        try:
            created = services.send_bulk(
                current_user,
                list_id=form.list_id.data,
                template_id=form.template_id.data or None,
                subject=form.subject.data or None,
                html=form.html.data or None,
                scheduled_at=form.scheduled_at.data,
                name=form.name.data or None,
            )
        except DomainError as exc:
            add_api_error(form, exc)
        else:
            flash(f"Campaign {created.name!r} is {created.status}.", "success")
            return redirect(url_for("email.campaign", campaign_id=created.public_id))
    page = render_template("email/new_campaign.html", form=form)
    return page, (422 if request.method == "POST" else 200)


@bp.get("/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    found = services.get_campaign(campaign_id, current_user)
    if found is None:
        abort(404)
    data = services.campaign_json(found, detail=True)
    chart = charts.svg_chart(data["timeline"]) if "timeline" in data else ""
    return render_template(
        "email/campaign.html", campaign=found, data=data, chart=chart, action_form=ActionForm()
    )


@bp.post("/campaigns/<campaign_id>/<action>")
def campaign_action(campaign_id: str, action: str):
    found = services.get_campaign(campaign_id, current_user)
    if found is None or action not in ("pause", "resume", "cancel"):
        abort(404)
    if ActionForm().validate_on_submit():
        try:
            services.change_state(found, action)
        except DomainError as exc:
            flash(exc.message, "danger")
    return redirect(url_for("email.campaign", campaign_id=campaign_id))
