"""The customer page's WhatsApp panel: the thread, a template picker, and free text while
the customer's 24-hour window is open."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length, Optional

from app.crm import panels
from app.crm.scoping import get_visible_customer
from app.crm.views import customer_page
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import consent
from decant_whatsapp import services
from decant_whatsapp.models import WhatsAppConversation, WhatsAppMessage, WhatsAppTemplate

bp = Blueprint(
    "whatsapp", __name__, url_prefix="/sales/marketing/whatsapp", template_folder="templates"
)


class SendForm(FlaskForm):
    template_id = SelectField("Approved template", choices=[], validate_choice=False)
    body = TextAreaField("Free text", validators=[Optional(), Length(max=4096)])


@bp.post("/customers/<customer_id>/send")
def send_to_customer(customer_id: str):
    """Send from the customer page; a refusal shows the page again with the form."""
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        abort(404)
    form = SendForm()
    if not form.validate_on_submit():
        panels.keep_form("whatsapp", form)
        return customer_page(customer, 422)
    try:
        message = services.send_to_customer(
            current_user,
            customer_id=customer_id,
            to=None,
            body=form.body.data,
            template_id=form.template_id.data or None,
        )
    except DomainError as exc:
        add_api_error(form, exc)
        panels.keep_form("whatsapp", form)
        return customer_page(customer, exc.status)
    flash(f"WhatsApp message {message.status}.", "success")
    return redirect(url_for("crm.customer", customer_id=customer_id))


def panel_context(customer: Any) -> dict[str, Any]:
    form = panels.kept_form("whatsapp") or SendForm(formdata=None)
    templates = db.session.scalars(select(WhatsAppTemplate).order_by(WhatsAppTemplate.name)).all()
    form.template_id.choices = [("", "— free text —")] + [(t.public_id, t.name) for t in templates]
    conversation = (
        db.session.scalar(
            select(WhatsAppConversation).where(WhatsAppConversation.phone == customer.phone)
        )
        if customer.phone
        else None
    )
    messages = (
        db.session.scalars(
            select(WhatsAppMessage)
            .where(WhatsAppMessage.conversation_id == conversation.id)
            .order_by(WhatsAppMessage.id.desc())
            .limit(20)
        ).all()
        if conversation
        else []
    )
    return {
        "customer": customer,
        "form": form,
        "messages": list(reversed(messages)),
        "window_closes_at": services.window_closes_at(customer.phone),
        "status": consent.status_of("whatsapp", customer.phone),
    }
