"""Customer page forms: record consent with its evidence, edit the contact window."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm

from app.crm import contact
from app.crm.forms import ConsentForm, ContactPreferencesForm
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.errors import DomainError
from app.messaging import consent

bp = Blueprint("crm_contact", __name__)


def _customer(customer_id: str) -> Customer:
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        abort(404)
    return customer


def _back(customer: Customer, anchor: str = "consent") -> ResponseReturnValue:
    return redirect(url_for("crm.customer", customer_id=customer.public_id, _anchor=anchor))


def _form_errors(form: FlaskForm) -> str:
    return "; ".join(
        f"{form[name].label.text}: {', '.join(errs)}" for name, errs in form.errors.items()
    )


@bp.post("/sales/customers/<customer_id>/consent")
def record_consent(customer_id: str) -> ResponseReturnValue:
    customer = _customer(customer_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        flash(f"Consent not recorded: {_form_errors(form)}", "danger")
        return _back(customer)
    obtained = form.obtained_at.data.replace(tzinfo=UTC) if form.obtained_at.data else None
    try:
        consent.record_by_staff(
            current_user,
            customer,
            channel=form.channel.data or "",
            status=form.status.data,
            method=form.method.data or None,
            wording=form.wording.data,
            evidence=form.evidence.data or None,
            obtained_at=obtained,
        )
    except DomainError as exc:
        flash(f"Consent not recorded: {exc.text()}", "danger")
        return _back(customer)
    flash(
        f"{form.channel.data.upper()} consent recorded: {form.status.data.replace('_', ' ')}.",
        "success",
    )
    return _back(customer)


@bp.post("/sales/customers/<customer_id>/contact-preferences")
def contact_preferences(customer_id: str) -> ResponseReturnValue:
    customer = _customer(customer_id)
    form = ContactPreferencesForm()
    if not form.validate_on_submit():
        flash(f"Contact preferences not saved: {_form_errors(form)}", "danger")
        return _back(customer)
    try:
        contact.set_contact_preferences(
            customer, start=form.start.data, end=form.end.data, timezone=form.timezone.data
        )
    except DomainError as exc:
        flash(f"Contact preferences not saved: {exc.text()}", "danger")
        return _back(customer)
    flash("Contact preferences saved.", "success")
    return _back(customer)


def card_context(customer: Customer) -> dict[str, Any]:
    """What the customer page's consent card shows."""
    pref = customer.preference
    consent_form = ConsentForm()
    consent_form.channel.choices = [(c, c.upper()) for c in consent.channels()]
    prefs_form = ContactPreferencesForm(
        start=pref.preferred_contact_start.strftime("%H:%M")
        if pref and pref.preferred_contact_start
        else "",
        end=pref.preferred_contact_end.strftime("%H:%M")
        if pref and pref.preferred_contact_end
        else "",
        timezone=pref.timezone if pref else "",
    )
    return {
        "channels": consent.summary(customer),
        "history": consent.history(customer, limit=20),
        "consent_form": consent_form,
        "prefs_form": prefs_form,
        "zones": contact.zone_names(),
    }
