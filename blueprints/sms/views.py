"""Pages: the SMS inbox under /sales/marketing/sms and the customer page's send box."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.api.errors import validation_error
from app.auth.models import User
from app.crm import panels
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.crm.views import customer_page
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error, add_error
from app.messaging import consent
from app.messaging.models import Template
from blueprints.sms import inbox as threads
from blueprints.sms import review, services, settings
from blueprints.sms.forms import ActionForm, AssignForm, LinkForm, ReplyForm, ReviewForm, SendForm
from blueprints.sms.media import web_media
from blueprints.sms.models import SmsConversation

bp = Blueprint("sms", __name__, url_prefix="/sales/marketing/sms", template_folder="templates")
#: The segment counter script, served under /static/sms/.
assets = Blueprint("sms_assets", __name__, static_folder="static", static_url_path="/static/sms")
bp.add_app_template_filter(web_media, "web_media")  # the thread is shown on customer pages too
PER_PAGE = 50


def _list_context() -> dict[str, Any]:
    """The conversations column: filter, search, sort, one page, names and states."""
    which = request.args.get("filter") or "all"
    if which not in threads.FILTERS:
        which = "all"
    table = threads.CONVERSATIONS_TABLE.from_request()
    pagination = table.paginate(threads.filtered(current_user, which))
    items = pagination.items
    ids = {c.customer_id for c in items if c.customer_id}
    names = dict(
        db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()
    )
    users = {c.assigned_to_id for c in items if c.assigned_to_id}
    assignees = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(users))).all())
    opted_out = {c.id for c in items if threads.is_opted_out(c)}
    return {
        "pagination": pagination,
        "table": table,
        "which": which,
        "filters": threads.FILTERS,
        "names": names,
        "assignees": assignees,
        "opted_out": opted_out,
        "flagged": review.flagged_conversations(c.id for c in items),
        "poll_seconds": int(settings.get("SMS_INBOX_POLL_SECONDS") or 5),
        "badge": _badge(),
        "keep_args": {
            k: v for k, v in request.args.items() if k in ("filter", "q", "sort", "dir", "page")
        },
    }


def _badge() -> dict[str, Any]:
    """The navigation badge, refreshed with each poll (an htmx out-of-band swap)."""
    return {"id": "nav-badge-sms-inbox", "count": threads.unread_conversations(current_user)}


def _thread_context(selected: SmsConversation) -> dict[str, Any]:
    services.mark_read(selected)
    return {
        "selected": selected,
        "messages": services.thread(selected),
        "customer": services.customer_for(selected),
        "review_form": ReviewForm(),
        "blocked": threads.composer_block(selected),
        "opted_out_now": threads.is_opted_out(selected),
        "poll_seconds": int(settings.get("SMS_INBOX_POLL_SECONDS") or 5),
    }


def _inbox_page(selected=None, form: ReplyForm | None = None, link_form: LinkForm | None = None):
    context = _list_context()
    if selected is not None:
        context.update(_thread_context(selected))
        context["form"] = form or ReplyForm()
        context["assign_form"] = AssignForm(formdata=None)
        context["action_form"] = ActionForm(formdata=None)
        context["assignable"] = threads.assignable_users(current_user)
        context["assignee"] = (
            db.session.get(User, selected.assigned_to_id) if selected.assigned_to_id else None
        )
        context["quick_replies"] = _quick_replies()
        if selected.customer_id is None:
            context["link_form"] = link_form or LinkForm(formdata=None)
            link_q = (request.args.get("link_q") or "").strip()[:100]
            context["link_q"] = link_q
            context["matches"] = threads.customer_matches(current_user, link_q)
    return render_template("sms/inbox.html", **context)


def _quick_replies() -> dict[str, Any]:
    """SMS templates to load into the reply box (tokens are rendered when sent)."""
    found = db.session.scalars(
        select(Template).where(Template.type == "sms").order_by(Template.name)
    ).all()
    return {
        "choices": [(t.public_id, t.name) for t in found],
        "texts": {t.public_id: t.body or "" for t in found},
    }


def _selected_or_404(conversation_id: str) -> SmsConversation:
    selected = services.get_conversation(conversation_id, current_user)
    if selected is None:
        abort(404)
    return selected


@bp.get("")
def inbox():
    return _inbox_page()


@bp.get("/_list")
def conversation_list():
    """The conversations column alone (htmx polls it: new texts appear by themselves)."""
    context = _list_context()
    context["selected_id"] = request.args.get("selected") or None
    return render_template("sms/_conversations.html", live=True, **context)


@bp.get("/<conversation_id>")
def conversation(conversation_id: str):
    return _inbox_page(_selected_or_404(conversation_id))


@bp.get("/<conversation_id>/_thread")
def live_thread(conversation_id: str):
    """One thread's texts alone (htmx polls it while the thread is open; marks it read)."""
    context = _thread_context(_selected_or_404(conversation_id))
    return render_template("sms/_live_thread.html", **context)


@bp.post("/<conversation_id>/assign")
def assign(conversation_id: str):
    selected = _selected_or_404(conversation_id)
    form = AssignForm()
    if form.validate_on_submit():
        try:
            threads.assign(current_user, selected, form.user_id.data or None)
        except DomainError as exc:
            db.session.rollback()
            flash(f"Not assigned: {exc.text()}", "danger")
        else:
            who = db.session.get(User, selected.assigned_to_id) if selected.assigned_to_id else None
            flash(f"Assigned to {who.name}." if who else "Unassigned.", "success")
    return redirect(_back(conversation_id), 303)


@bp.post("/<conversation_id>/unread")
def mark_unread(conversation_id: str):
    selected = _selected_or_404(conversation_id)
    if ActionForm().validate_on_submit():
        try:
            threads.mark_unread(selected)
        except DomainError as exc:
            flash(exc.text(), "warning")
            return redirect(_back(conversation_id), 303)
        flash("Marked unread.", "info")
    return redirect(url_for("sms.inbox"), 303)


@bp.post("/<conversation_id>/link")
def link(conversation_id: str):
    """Link an unknown number to a customer; refused: the thread again, saying why."""
    selected = _selected_or_404(conversation_id)
    form = LinkForm()
    if not form.validate_on_submit():
        return _inbox_page(selected, link_form=form), 422
    try:
        target = threads.link_customer(
            current_user,
            selected,
            form.customer_id.data or "",
            use_as_phone=bool(form.use_as_phone.data),
        )
    except DomainError as exc:
        db.session.rollback()
        add_api_error(form, exc)
        return _inbox_page(selected, link_form=form), exc.status
    customer = services.customer_for(target)
    flash(
        f"{target.phone} is linked to {customer.name if customer else 'the customer'}: "
        "its texts and the number's consent moved with it.",
        "success",
    )
    return redirect(url_for("sms.conversation", conversation_id=target.public_id), 303)


@bp.post("/<conversation_id>/reply")
def reply(conversation_id: str):
    """Reply in a thread. Sent: back to the thread. Refused or failed: the thread again with
    the reply as typed and why."""
    selected = _selected_or_404(conversation_id)
    form = ReplyForm()
    if not form.validate_on_submit():  # CSRF was checked before the view: these are fields
        return _inbox_page(selected, form), 422
    try:
        message = services.reply(current_user, selected, form.body.data or "")
    except DomainError as exc:
        add_api_error(form, exc)
        return _inbox_page(selected, form), exc.status
    if message.status == "failed":
        add_error(form, None, f"Not delivered: {message.error_message}")
        return _inbox_page(selected, form), 200
    return redirect(_back(conversation_id))


@bp.post("/<conversation_id>/messages/<message_id>/review")
def review_message(conversation_id: str, message_id: str):
    """One click on a flagged text: "Treat as opt-out" or "Not an opt-out"."""
    selected = services.get_conversation(conversation_id, current_user)
    message = review.visible_message(message_id, current_user)
    if selected is None or message is None or message.conversation_id != selected.id:
        abort(404)
    form = ReviewForm()
    if not form.validate_on_submit():
        flash("Choose opt-out or not an opt-out.", "danger")
        return redirect(_back(conversation_id))
    try:
        review.decide(current_user, message_id, form.decision.data or "")
    except DomainError as exc:
        flash(f"Not changed: {exc.text()}", "danger")
        return redirect(_back(conversation_id))
    if form.decision.data == "opt_out":
        flash(f"Recorded as an opt-out: {selected.phone} will not be texted.", "success")
    else:
        flash("Marked as not an opt-out.", "success")
    return redirect(_back(conversation_id))


def _back(conversation_id: str) -> str:
    target = request.form.get("next") or ""
    if target.startswith("/sales/") and "//" not in target:
        return target
    return url_for("sms.conversation", conversation_id=conversation_id)


def _refused(customer: Customer, form: SendForm, status: int):
    """The customer page again, the SMS form keeping what was typed and saying why."""
    panels.keep_form("sms", form)
    return customer_page(customer, status)


def _template_and_text(form: SendForm) -> tuple[str | None, str | None]:
    """(template id, body) to send. A chosen template with the box empty, or holding the
    template's own text (the page's script loads it there), sends the template; typed text
    with a template chosen is ambiguous: a 422 on the picker, nothing dropped silently."""
    template_id = form.template_id.data or None
    body = (form.body.data or "").strip()
    if template_id is None:
        return None, form.body.data or ""
    if not body or body == (services.sms_template(template_id).body or "").strip():
        return template_id, None
    raise validation_error(
        {"templateId": "you typed a message and chose a template: keep one of them"}
    )


@bp.post("/customers/<customer_id>/send")
def send_to_customer(customer_id: str):
    """Text from the customer page. Sent: back to the page. Refused or failed: the page
    again with the form as typed and each problem beside its field."""
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        abort(404)
    form = SendForm()
    if not form.validate_on_submit():  # CSRF was checked before the view: these are fields
        return _refused(customer, form, 422)
    try:
        template_id, body = _template_and_text(form)
        message = services.send_to_customer(
            current_user,
            customer_id=customer_id,
            to=None,
            body=body,
            template_id=template_id,
            media_urls=[form.media_url.data] if form.media_url.data else [],
        )
    except DomainError as exc:
        add_api_error(form, exc)
        return _refused(customer, form, exc.status)
    if message.status == "failed":
        add_error(form, None, f"Text failed: {message.error_message}")
        return _refused(customer, form, 200)
    info = f"{message.segments} segment(s), {message.encoding}"
    flash(f"Text {message.status} ({info}).", "success")
    return redirect(url_for("crm.customer", customer_id=customer_id))


def panel_context(customer: Any) -> dict[str, Any]:
    """The customer page's SMS panel: the thread and a send box (blank, or the one just
    refused with what was typed)."""
    conversation = services.customer_conversation(customer)
    form = panels.kept_form("sms") or SendForm(formdata=None)
    templates = db.session.scalars(
        select(Template).where(Template.type == "sms").order_by(Template.name)
    ).all()
    form.template_id.choices = [("", "— write a message —")] + [
        (t.public_id, t.name) for t in templates
    ]
    return {
        "customer": customer,
        "conversation": conversation,
        "messages": services.thread(conversation, limit=50) if conversation else [],
        "form": form,
        "template_texts": {t.public_id: t.body or "" for t in templates},
        "reply_form": ReplyForm(formdata=None),
        "review_form": ReviewForm(formdata=None),
        "sms_status": consent.status_of("sms", customer.phone),
    }
