"""Pages: the SMS inbox under /sales/marketing/sms and the customer page's send box."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.api.errors import ApiError
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.extensions import db
from app.messaging.models import Template
from blueprints.sms import services
from blueprints.sms.forms import ReplyForm, SendForm
from blueprints.sms.media import web_media

bp = Blueprint("sms", __name__, url_prefix="/sales/marketing/sms", template_folder="templates")
#: The segment counter script, served under /static/sms/.
assets = Blueprint("sms_assets", __name__, static_folder="static", static_url_path="/static/sms")
bp.add_app_template_filter(web_media, "web_media")  # the thread is shown on customer pages too
PER_PAGE = 50


def _problem(exc: ApiError) -> str:
    return "; ".join(exc.fields.values()) if exc.fields else exc.message


def _inbox_page(selected=None, form: ReplyForm | None = None):
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(
        services.inbox(current_user), page=page, per_page=PER_PAGE, error_out=False
    )
    ids = {c.customer_id for c in pagination.items if c.customer_id}
    names = dict(
        db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()
    )
    context: dict[str, Any] = {"pagination": pagination, "selected": selected, "names": names}
    if selected is not None:
        services.mark_read(selected)
        context["messages"] = services.thread(selected)
        context["form"] = form or ReplyForm()
        context["customer"] = services.customer_for(selected)
    return render_template("sms/inbox.html", **context)


@bp.get("")
def inbox():
    return _inbox_page()


@bp.get("/<conversation_id>")
def conversation(conversation_id: str):
    selected = services.get_conversation(conversation_id, current_user)
    if selected is None:
        abort(404)
    return _inbox_page(selected)


@bp.post("/<conversation_id>/reply")
def reply(conversation_id: str):
    selected = services.get_conversation(conversation_id, current_user)
    if selected is None:
        abort(404)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash("The reply is too long.", "danger")
        return _inbox_page(selected, form), 422
    try:
        message = services.reply(current_user, selected, form.body.data or "")
    except ApiError as exc:
        flash(f"Not sent: {_problem(exc)}", "danger")
        return redirect(_back(conversation_id))
    if message.status == "failed":
        flash(f"Not delivered: {message.error_message}", "danger")
    return redirect(_back(conversation_id))


def _back(conversation_id: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/sales/") and "//" not in target:
        return target
    return url_for("sms.conversation", conversation_id=conversation_id)


@bp.post("/customers/<customer_id>/send")
def send_to_customer(customer_id: str):
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        abort(404)
    form = SendForm()
    back = url_for("crm.customer", customer_id=customer_id)
    if not form.validate_on_submit():
        flash("Check the message: " + "; ".join(sum(form.errors.values(), [])), "danger")
        return redirect(back)
    try:
        message = services.send_to_customer(
            current_user,
            customer_id=customer_id,
            to=None,
            body=None if form.template_id.data else (form.body.data or ""),
            template_id=form.template_id.data or None,
            media_urls=[form.media_url.data] if form.media_url.data else [],
        )
    except ApiError as exc:
        flash(f"Text not sent: {_problem(exc)}", "danger")
        return redirect(back)
    if message.status == "failed":
        flash(f"Text failed: {message.error_message}", "danger")
    else:
        info = f"{message.segments} segment(s), {message.encoding}"
        flash(f"Text {message.status} ({info}).", "success")
    return redirect(back)


def panel_context(customer: Any) -> dict[str, Any]:
    """The customer page's SMS panel: the thread and a send box."""
    conversation = services.customer_conversation(customer)
    form = SendForm()
    templates = db.session.scalars(
        select(Template).where(Template.type == "sms").order_by(Template.name)
    ).all()
    form.template_id.choices = [("", "— write a message —")] + [
        (t.public_id, t.name) for t in templates
    ]
    pref = customer.preference
    return {
        "customer": customer,
        "conversation": conversation,
        "messages": services.thread(conversation, limit=50) if conversation else [],
        "form": form,
        "reply_form": ReplyForm(),
        "sms_status": pref.sms_status if pref else "unknown",
    }
