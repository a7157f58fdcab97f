"""Pages: templates (editor with live preview) and the customer page's "Send email" panel
(campaign pages are the core's: :mod:`app.campaigns.views`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.crm import panels
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, scope_customers
from app.crm.views import customer_page
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error, add_error
from app.messaging import templates as tpl
from blueprints.email import services
from blueprints.email.forms import ConfirmDeleteForm, SendEmailForm, TemplateForm

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


# --- templates ----------------------------------------------------------------------------


def _preview_customers() -> list[Customer]:
    stmt = scope_customers(select(Customer).order_by(Customer.name).limit(200), current_user)
    return list(db.session.scalars(stmt))


@bp.route("/templates", methods=["GET", "POST"])
def templates():
    """The template list and editor: a new template, or ``?id=`` one to change. A rep sees
    shared templates read-only (no Save, no Delete); posting one anyway is a 403."""
    tpl.ensure_defaults()
    template_id = request.args.get("id")
    chosen = tpl.get_template(template_id) if template_id else None
    if template_id and chosen is None:
        abort(404)
    editable = chosen is None or tpl.can_manage(current_user, chosen)
    if request.method == "POST" and not editable:
        abort(403)
    form = TemplateForm(obj=chosen) if request.method == "GET" else TemplateForm()
    if chosen is not None:
        del form.type  # fixed once created: shown read-only, never read from the request
    if form.validate_on_submit():
        data = {k: getattr(form, k).data or None for k in ("name", "subject", "html", "body")}
        try:
            if chosen is not None:
                saved = tpl.update_template(current_user, chosen, data)
            else:
                saved = tpl.create_template(current_user, {**data, "type": form.type.data})
        except DomainError as exc:
            add_api_error(form, exc)
        else:
            flash(f"Template “{saved.name}” saved.", "success")
            return redirect(url_for("email.templates", id=saved.public_id))
    items = db.session.scalars(tpl.templates_query()).all()
    page = render_template(
        "email/templates.html",
        items=items,
        read_only={t.id for t in items if not tpl.can_manage(current_user, t)},
        chosen=chosen,
        editable=editable,
        form=form,
        customers=_preview_customers(),
    )
    return page, (422 if request.method == "POST" else 200)


def _managed_template_or_abort(template_id: str):
    found = tpl.get_template(template_id)
    if found is None:
        abort(404)
    if not tpl.can_manage(current_user, found):
        abort(403)
    return found


@bp.route("/templates/<template_id>/delete", methods=["GET", "POST"])
def delete_template(template_id: str):
    """Delete after a confirmation page (works without JavaScript): the POST needs the
    confirm form's ``confirm=yes``, so no other button deletes by mistake."""
    found = _managed_template_or_abort(template_id)
    form = ConfirmDeleteForm()
    if form.validate_on_submit():
        name = found.name
        tpl.delete_template(current_user, found)
        flash(f"Template “{name}” deleted.", "success")
        return redirect(url_for("email.templates"))
    return render_template("email/template_delete.html", template=found, form=form)
