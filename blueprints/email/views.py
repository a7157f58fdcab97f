"""Pages: the customer page's "Send email" panel (template and campaign pages are the
core's: :mod:`app.templates_admin`, :mod:`app.campaigns.views`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from app.crm import panels
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.crm.views import customer_page
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error, add_error
from app.messaging import templates as tpl
from blueprints.email import services
from blueprints.email.forms import SendEmailForm

bp = Blueprint("email", __name__, url_prefix="/sales/marketing", template_folder="templates")


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
