"""Template pages: the list and editor with live preview, and the delete confirmation."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.crm.models import Customer
from app.crm.scoping import scope_customers
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import templates as tpl
from app.templates_admin.forms import ConfirmDeleteForm, TemplateForm

bp = Blueprint(
    "templates",
    __name__,
    url_prefix="/sales/marketing",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/templates_admin",
)


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
            return redirect(url_for("templates.templates", id=saved.public_id))
    items = db.session.scalars(tpl.templates_query()).all()
    page = render_template(
        "templates_admin/templates.html",
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
        return redirect(url_for("templates.templates"))
    return render_template("templates_admin/template_delete.html", template=found, form=form)
