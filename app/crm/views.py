"""Customer pages: the searchable list and each customer's timeline."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.crm import services
from app.crm.contact_views import card_context
from app.crm.models import ACCOUNT_PRIORITIES, ACCOUNT_TYPES, Customer, Order, Territory
from app.crm.panels import panels_for
from app.crm.scoping import get_visible_customer
from app.crm.tables import CUSTOMERS_TABLE
from app.engagement.contacts import contact_scores
from app.errors import DomainError
from app.extensions import db
from app.messaging import audiences

bp = Blueprint("crm", __name__)


def _int_arg(name: str, default: int, maximum: int) -> int:
    try:
        return max(1, min(int(request.args.get(name, default)), maximum))
    except ValueError:
        return default


@bp.get("/")
def index() -> ResponseReturnValue:
    return customers()


@bp.get("/sales/customers")
def customers() -> ResponseReturnValue:
    filters = {
        "territory": request.args.get("territory") or None,
        "account_priority": request.args.get("accountPriority") or None,
        "account_type": request.args.get("accountType") or None,
        "q": (request.args.get("q") or "").strip()[:200] or None,
    }
    if filters["account_priority"] not in (None, *ACCOUNT_PRIORITIES):
        filters["account_priority"] = None
    if filters["account_type"] not in (None, *ACCOUNT_TYPES):
        filters["account_type"] = None
    table = CUSTOMERS_TABLE.from_request()
    pagination = table.paginate(services.customers_query(current_user, **filters))
    territories = db.session.scalars(select(Territory).order_by(Territory.name)).all()
    if not current_user.sees_all_territories:
        territories = [t for t in territories if t.id == current_user.territory_id]
    return render_template(
        "crm/customers.html",
        pagination=pagination,
        filters=filters,
        territories=territories,
        priorities=ACCOUNT_PRIORITIES,
        account_types=ACCOUNT_TYPES,
        table=table,
        list_choices=audiences.writable_choices("list", current_user),
        selection_form=FlaskForm(formdata=None),
    )


@bp.post("/sales/customers/add-to-list")
def add_selection_to_list() -> Response:
    """The customers table's selection onto a manual list (through the list audience's
    owner, so the core imports no channel); back to the table as it was."""
    back = request.form.get("next") or ""
    if not (back.startswith("/sales/customers") and "//" not in back):
        back = url_for("crm.customers")
    if not FlaskForm().validate_on_submit():
        flash("The form expired: select the customers again.", "danger")
        return redirect(back, 303)
    ids = [i for i in request.form.getlist("customerId") if i][:1000]
    list_id = request.form.get("listId") or ""
    if not ids:
        flash("Select at least one customer first (the boxes in the first column).", "warning")
        return redirect(back, 303)
    if not list_id:
        flash("Choose the list to add the selected customers to.", "warning")
        return redirect(back, 303)
    try:
        added = audiences.add_members("list", list_id, ids, current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(f"Not added: {'; '.join((exc.fields or {}).values()) or exc.message}", "danger")
        return redirect(back, 303)
    label = dict(audiences.writable_choices("list", current_user)).get(list_id, "the list")
    already = len(set(ids)) - added
    note = f" ({already} already on it)" if already > 0 else ""
    flash(f"{added} customer(s) added to {label}{note}.", "success")
    return redirect(back, 303)


@bp.get("/sales/customers/<customer_id>")
def customer(customer_id: str) -> ResponseReturnValue:
    found = get_visible_customer(customer_id, current_user)
    if found is None:
        abort(404)
    return customer_page(found)


def customer_page(found: Customer, status: int = 200) -> tuple[str, int]:
    """The customer page (details, timeline, the channels' panels). A channel whose panel
    form was refused renders it again with ``status`` (see :func:`panels.keep_form`)."""
    page = _int_arg("page", 1, 100_000)
    activities = db.paginate(
        services.activities_query(found), page=page, per_page=25, error_out=False
    )
    recent_orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == found.id)
        .order_by(Order.order_date.desc())
        .limit(10)
    ).all()
    return render_template(
        "crm/customer.html",
        customer=found,
        activities=activities,
        recent_orders=recent_orders,
        panels=panels_for(found),
        contact=card_context(found),
        **_address_scores(found),
    ), status


def _address_scores(found: Customer) -> dict[str, Any]:
    """Each address's engagement score (app/engagement/contacts.py): the current email
    and phone by channel, and the earlier addresses; what counts as engaged."""
    scores = contact_scores(found)
    return {
        "address_scores": {s["channel"]: s for s in scores if s["current"]},
        "earlier_addresses": [s for s in scores if not s["current"]],
        "engaged_min": float(current_app.config.get("ENGAGEMENT_ENGAGED_MIN") or 10),
    }
