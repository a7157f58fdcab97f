"""Template pages: the list and editor with live preview, and the delete confirmation."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, scope_customers
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import templates as tpl
from app.messaging import test_send
from app.messaging.models import Template
from app.security import CSP
from app.tables import TableSpec
from app.templates_admin.forms import ConfirmDeleteForm, DesignerForm, TemplateForm, TestSendForm

bp = Blueprint("templates", __name__, url_prefix="/sales/marketing", template_folder="templates")
#: the pages' scripts, styles and the designer's images (public, as every static file)
assets = Blueprint(
    "templates_assets", __name__, static_folder="static", static_url_path="/static/templates_admin"
)


def _preview_customers() -> list[Customer]:
    stmt = scope_customers(select(Customer).order_by(Customer.name).limit(200), current_user)
    return list(db.session.scalars(stmt))


#: The template list: sorted by name, kind or last change; searched by name or subject.
TEMPLATES_TABLE = TableSpec(
    columns={
        "name": func.lower(Template.name),
        "type": Template.type,
        "updated": Template.updated_at,
    },
    default_sort="name",
    search=(Template.name, Template.subject),
    tiebreak=Template.id,
    desc_first=frozenset({"updated"}),
)


@bp.route("/templates", methods=["GET", "POST"])
def templates() -> ResponseReturnValue:
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
    if request.method == "GET" and chosen is not None:
        form.mjml.data = chosen.mjml_source
    if form.validate_on_submit():
        keys: tuple[str, ...] = ("name", "subject", "html", "body")
        if chosen is not None and chosen.format == "mjml":
            keys = ("name", "subject", "mjml")  # its code view edits the MJML source
        data = {k: getattr(form, k).data or None for k in keys}
        if "mjml" in keys:
            data["mjml"] = form.mjml.data or ""  # emptied: "an MJML document is required"
        try:
            if chosen is not None:
                saved = tpl.update_template(current_user, chosen, data)
            else:
                saved = tpl.create_template(current_user, {**data, "type": form.type.data})
        except DomainError as exc:
            add_api_error(form, exc)
        else:
            flash(f"Template “{saved.name}” saved.", "success")
            for line in tpl.save_report_lines(saved):
                flash(line, "warning")
            return redirect(url_for("templates.templates", id=saved.public_id))
    table = TEMPLATES_TABLE.from_request()
    pagination = table.paginate(tpl.templates_query())
    items = list(pagination.items)
    page = render_template(
        "templates_admin/templates.html",
        items=items,
        table=table,
        pagination=pagination,
        read_only={t.id for t in items if not tpl.can_manage(current_user, t)},
        chosen=chosen,
        editable=editable,
        form=form,
        test_form=TestSendForm(formdata=None),
        customers=_preview_customers(),
    )
    return page, (422 if request.method == "POST" else 200)


def _managed_template_or_abort(template_id: str) -> Template:
    found = tpl.get_template(template_id)
    if found is None:
        abort(404)
    if not tpl.can_manage(current_user, found):
        abort(403)
    return found


@bp.route("/templates/<template_id>/delete", methods=["GET", "POST"])
def delete_template(template_id: str) -> ResponseReturnValue:
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


# --- the designer (MJML, drag and drop) ---------------------------------------------------

#: GrapesJS styles its panels and canvas from script (inline styles), and designs show
#: their images from wherever they are hosted; scripts stay this site's own.
DESIGNER_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self' data:", "img-src 'self' data: https:"
)


@bp.route("/templates/designer", methods=["GET", "POST"])
def designer() -> ResponseReturnValue:
    """Design an email in MJML by drag and drop: a new one, or ``?id=`` an MJML template
    (an HTML template opens in the code view instead). Saving compiles the MJML on the
    server; a refusal shows the page again with the design as it was."""
    template_id = request.args.get("id")
    chosen = tpl.get_template(template_id) if template_id else None
    if template_id and chosen is None:
        abort(404)
    if chosen is not None and (chosen.type != "email" or chosen.format != "mjml"):
        return redirect(url_for("templates.templates", id=chosen.public_id))
    editable = chosen is None or tpl.can_manage(current_user, chosen)
    if request.method == "POST" and not editable:
        abort(403)
    form = DesignerForm(obj=chosen) if request.method == "GET" else DesignerForm()
    if request.method == "GET" and chosen is not None:
        form.mjml.data = chosen.mjml_source
    if form.validate_on_submit():
        data = {
            "name": form.name.data,
            "subject": form.subject.data or None,
            "format": "mjml",
            "mjml": form.mjml.data or None,
        }
        try:
            if chosen is not None:
                saved = tpl.update_template(current_user, chosen, data)
            else:
                saved = tpl.create_template(current_user, {**data, "type": "email"})
        except DomainError as exc:
            add_api_error(form, exc)
        else:
            flash(f"Template “{saved.name}” saved.", "success")
            for line in tpl.save_report_lines(saved):
                flash(line, "warning")
            return redirect(url_for("templates.designer", id=saved.public_id))
    page = render_template(
        "templates_admin/designer.html",
        chosen=chosen,
        editable=editable,
        form=form,
        test_form=TestSendForm(formdata=None),
        customers=_preview_customers(),
    )
    response = make_response(page, 422 if request.method == "POST" else 200)
    response.headers["Content-Security-Policy"] = DESIGNER_CSP
    return response


@bp.post("/templates/<template_id>/test")
def send_test(template_id: str) -> ResponseReturnValue:
    """Send a test of a saved email template to the signed-in user's own address."""
    found = tpl.get_template(template_id)
    if found is None:
        abort(404)
    form = TestSendForm()
    back = (
        url_for("templates.designer", id=found.public_id)
        if found.format == "mjml"
        else url_for("templates.templates", id=found.public_id)
    )
    if not form.validate_on_submit():
        flash("The test could not be sent: reload the page and try again.", "danger")
        return redirect(back)
    customer = None
    if form.customer_id.data:
        customer = get_visible_customer(form.customer_id.data, current_user)
    try:
        address = test_send.send_test(current_user, found, customer)
    except DomainError as exc:
        flash(f"The test was not sent: {exc.text()}", "danger")
    else:
        flash(f"Test of “{found.name}” sent to {address}.", "success")
    return redirect(back)
