"""/api/sales/customers, /orders, /skus, /territories"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.errors import not_found
from app.api.pagination import PageQuery, paginate
from app.api.spec import ApiResponse, api, responses
from app.attribution.reports import order_attribution
from app.auth.access import role_required
from app.crm import catalogue, readback, services
from app.crm import schemas as s
from app.crm.models import Activity, Customer, Order, OrderLine, Sku, Territory
from app.crm.references import named_by
from app.crm.scoping import get_visible_customer, scope_customers, visible_customer_ids
from app.crm.tables import CUSTOMERS_TABLE
from app.extensions import db

bp = Blueprint("crm_api", __name__, url_prefix="/api/sales")


def _customer_or_404(customer_id: str) -> Customer:
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        raise not_found("customer")
    return customer


@bp.get("/customers")
@api.validate(query=s.CustomerQuery, resp=responses(HTTP_200=s.CustomerPage), tags=["customers"])
def list_customers(query: s.CustomerQuery) -> ApiResponse:
    """Customers you can see, filtered by territory, accountPriority, accountType, q,
    sorted by ``sort`` (``-revenue``: biggest first; the default is by name).

    With `updatedSince` or `cursor`: what changed since, in change order, with
    `nextCursor` to ask again later (archived customers included)."""
    stmt = services.customers_query(
        current_user,
        territory=query.territory,
        account_priority=query.account_priority,
        account_type=query.account_type,
        q=query.q,
    ).options(
        selectinload(Customer.preference),
        selectinload(Customer.territory),
        selectinload(Customer.rep),
    )
    if readback.wants_changes(query):
        return readback.changes(
            stmt,
            query,
            query.per_page,
            services.customer_json,
            kind="customers",
            model=Customer,
            time_column=Customer.updated_at,
            since_column=Customer.updated_at,
            serialize_page=services.customers_json,
        )
    if query.sort:
        key = query.sort.lstrip("-")
        direction = "desc" if query.sort.startswith("-") else "asc"
        stmt = CUSTOMERS_TABLE.from_request({"sort": key, "dir": direction}).apply(stmt)
    return paginate(
        stmt,
        query.page,
        query.per_page,
        services.customer_json,
        serialize_page=services.customers_json,
    )


@bp.post("/customers")
@api.validate(json=s.CustomerCreate, resp=responses(HTTP_201=s.CustomerOut), tags=["customers"])
def create_customer(json: s.CustomerCreate) -> ApiResponse:
    customer = services.create_customer(current_user, json.model_dump())
    return services.customer_json(customer), 201


@bp.get("/customers/<customer_id>")
@api.validate(resp=responses(HTTP_200=s.CustomerOut, HTTP_404=None), tags=["customers"])
def get_customer(customer_id: str) -> ApiResponse:
    return services.customer_json(_customer_or_404(customer_id))


@bp.patch("/customers/<customer_id>")
@api.validate(
    json=s.CustomerPatch, resp=responses(HTTP_200=s.CustomerOut, HTTP_404=None), tags=["customers"]
)
def patch_customer(customer_id: str, json: s.CustomerPatch) -> ApiResponse:
    customer = _customer_or_404(customer_id)
    data = json.model_dump(exclude_unset=True)
    return services.customer_json(services.update_customer(current_user, customer, data))


@bp.get("/customers/<customer_id>/activities")
@api.validate(
    query=PageQuery, resp=responses(HTTP_200=s.ActivityPage, HTTP_404=None), tags=["customers"]
)
def customer_activities(customer_id: str, query: PageQuery) -> ApiResponse:
    """The customer's timeline, newest first."""
    # The visibility check rides in the page query (one round trip on this hot path); an
    # empty page is told apart from an unknown or hidden customer afterwards.
    visible_id = scope_customers(
        select(Customer.id).where(named_by(Customer, customer_id)), current_user
    ).scalar_subquery()
    page = paginate(
        services.activities_query(visible_id),
        query.page,
        query.per_page,
        services.activity_json,
        window_count=True,
    )
    if not page["items"]:
        _customer_or_404(customer_id)
    return page


@bp.get("/orders")
@api.validate(query=s.OrderQuery, resp=responses(HTTP_200=s.OrderPage), tags=["orders"])
def list_orders(query: s.OrderQuery) -> ApiResponse:
    """Orders of customers you can see, newest first.

    With `updatedSince` or `cursor`: what changed since (cancellations too), in change
    order, with `nextCursor`."""
    stmt = (
        select(Order)
        .where(Order.customer_id.in_(visible_customer_ids(current_user)))
        .options(
            selectinload(Order.lines).selectinload(OrderLine.sku),
            selectinload(Order.customer),
            selectinload(Order.rep),
        )
        .order_by(Order.order_date.desc(), Order.id.desc())
    )
    if query.customer_id:
        customer = get_visible_customer(query.customer_id, current_user)
        if customer is None:
            raise not_found("customer", field="customerId")
        stmt = stmt.where(Order.customer_id == customer.id)
    if query.since:
        stmt = stmt.where(Order.order_date >= query.since)
    if query.until:
        stmt = stmt.where(Order.order_date <= query.until)
    if readback.wants_changes(query):
        return readback.changes(
            stmt,
            query,
            query.per_page,
            services.order_json,
            kind="orders",
            model=Order,
            time_column=Order.updated_at,
            since_column=Order.updated_at,
        )
    return paginate(stmt, query.page, query.per_page, services.order_json)


@bp.get("/activities")
@api.validate(query=s.ActivityQuery, resp=responses(HTTP_200=s.ActivityPage), tags=["customers"])
def list_activities(query: s.ActivityQuery) -> ApiResponse:
    """Timeline entries of customers you can see, newest first (`customerId` narrows).

    With `updatedSince` (entries that happened since) or `cursor`: in the order they were
    recorded, with `nextCursor`; entries never change once written, so a cursor alone
    returns exactly the entries recorded after it."""
    stmt = (
        select(Activity)
        .where(Activity.customer_id.in_(visible_customer_ids(current_user)))
        .options(selectinload(Activity.customer))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
    )
    if query.customer_id:
        customer = get_visible_customer(query.customer_id, current_user)
        if customer is None:
            raise not_found("customer", field="customerId")
        stmt = stmt.where(Activity.customer_id == customer.id)
    if readback.wants_changes(query):
        return readback.changes(
            stmt,
            query,
            query.per_page,
            services.activity_json,
            kind="activities",
            model=Activity,
            time_column=None,
            since_column=Activity.occurred_at,
        )
    return paginate(stmt, query.page, query.per_page, services.activity_json)


@bp.get("/orders/<order_id>")
@api.validate(resp=responses(HTTP_200=s.OrderOut, HTTP_404=None), tags=["orders"])
def get_order(order_id: str) -> ApiResponse:
    order = db.session.scalar(
        select(Order).where(
            named_by(Order, order_id),
            Order.customer_id.in_(visible_customer_ids(current_user)),
        )
    )
    if order is None:
        raise not_found("order")
    return {
        **services.order_json(order),
        "attribution": order_attribution(order.customer_id, order.id),
    }


@bp.get("/skus")
@api.validate(query=s.SkuQuery, resp=responses(HTTP_200=s.SkuPage), tags=["catalogue"])
def list_skus(query: s.SkuQuery) -> ApiResponse:
    """The catalogue by name; `q` searches name, code, producer, varietal and region."""
    stmt = catalogue.skus_query(query.q)
    return paginate(stmt, query.page, query.per_page, services.sku_json)


@bp.post("/skus")
@role_required("admin")
@api.validate(
    json=s.SkuCreate, resp=responses(HTTP_201=s.SkuOut, HTTP_409=None), tags=["catalogue"]
)
def create_sku(json: s.SkuCreate) -> ApiResponse:
    """Add a SKU to the catalogue (admins only); `code` and `externalId` are unique."""
    return services.sku_json(catalogue.create_sku(s.sku_data(json))), 201


@bp.patch("/skus/<sku_id>")
@role_required("admin")
@api.validate(
    json=s.SkuPatch,
    resp=responses(HTTP_200=s.SkuOut, HTTP_404=None, HTTP_409=None),
    tags=["catalogue"],
)
def patch_sku(sku_id: str, json: s.SkuPatch) -> ApiResponse:
    """Change a SKU's fields (admins only); `active: false` takes it out of sale."""
    sku = catalogue.find_sku(sku_id)
    return services.sku_json(catalogue.update_sku(sku, s.sku_data(json)))


@bp.get("/skus/<sku_id>")
@api.validate(resp=responses(HTTP_200=s.SkuOut, HTTP_404=None), tags=["catalogue"])
def get_sku(sku_id: str) -> ApiResponse:
    sku = db.session.scalar(select(Sku).where(named_by(Sku, sku_id) | (Sku.code == sku_id)))
    if sku is None:
        raise not_found("sku")
    return services.sku_json(sku)


@bp.get("/territories")
@api.validate(query=PageQuery, resp=responses(HTTP_200=s.TerritoryPage), tags=["catalogue"])
def list_territories(query: PageQuery) -> ApiResponse:
    stmt = select(Territory).order_by(Territory.name)
    return paginate(stmt, query.page, query.per_page, services.territory_json)


@bp.post("/territories")
@role_required("admin")
@api.validate(
    json=s.TerritoryCreate,
    resp=responses(HTTP_201=s.TerritoryOut, HTTP_409=None),
    tags=["catalogue"],
)
def create_territory(json: s.TerritoryCreate) -> ApiResponse:
    """Create a territory (admins only); `name` and `externalId` are unique."""
    territory = catalogue.create_territory(json.model_dump())
    return services.territory_json(territory), 201


@bp.patch("/territories/<territory_id>")
@role_required("admin")
@api.validate(
    json=s.TerritoryPatch,
    resp=responses(HTTP_200=s.TerritoryOut, HTTP_404=None, HTTP_409=None),
    tags=["catalogue"],
)
def patch_territory(territory_id: str, json: s.TerritoryPatch) -> ApiResponse:
    """Rename a territory, change its time zone or external id (admins only)."""
    territory = catalogue.find_territory(territory_id)
    data = json.model_dump(exclude_unset=True)
    return services.territory_json(catalogue.update_territory(territory, data))
