"""Customer pages: the searchable list and each customer's timeline."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.api.pagination import MAX_PER_PAGE
from app.crm import services
from app.crm.contact_views import card_context
from app.crm.models import ACCOUNT_PRIORITIES, ACCOUNT_TYPES, Customer, Order, Territory
from app.crm.panels import panels_for
from app.crm.scoping import get_visible_customer
from app.extensions import db

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
    page = _int_arg("page", 1, 100_000)
    per_page = _int_arg("perPage", 25, MAX_PER_PAGE)
    stmt = services.customers_query(current_user, **filters)
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
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
    )


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
    ), status
