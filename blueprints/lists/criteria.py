"""Smart-list criteria: the pydantic shapes, reference checks, and the SQL they compile to.

A criterion is a leaf (``{"type": "high_value", "minRevenue": 50000}``...) or a combinator
(``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``). Every leaf compiles to a
two-valued SQL predicate over ``customer`` (NULLs count as "no"), so ``not`` is the exact
complement and the whole definition is ONE ``SELECT customer.id ... WHERE ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Discriminator, Field, PlainSerializer, Tag, TypeAdapter, field_validator
from sqlalchemy import (
    Numeric,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from app.api.spec import CamelModel
from app.crm.models import (
    ACCOUNT_PRIORITIES,
    ACCOUNT_TYPES,
    Customer,
    Order,
    OrderLine,
    Sku,
    Territory,
)
from app.crm.schemas import check_custom_fields
from app.engagement import segments
from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow

if TYPE_CHECKING:
    from app.auth.models import User

MAX_DEPTH = 5
MAX_CHILDREN = 25
#: Conditions (leaves and combinators) in one definition, and JSON values in all: 25
#: children five levels deep would be millions, each a SQL predicate.
MAX_CONDITIONS = 50
MAX_JSON_VALUES = 2_000
MAX_DAYS = 36_500
AccountType = Literal["ACTIVE", "PROSPECT", "INACTIVE", "CHURNED"]
AccountPriority = Literal["HIGH", "MEDIUM", "LOW"]
CustomValue = Annotated[str, Field(max_length=200)] | bool | int | float
#: customQuery keys that name a column rather than a custom field.
COLUMN_KEYS = {"accountPriority": ACCOUNT_PRIORITIES, "accountType": ACCOUNT_TYPES}


class AllInTerritory(CamelModel):
    type: Literal["all_in_territory"]
    #: the territory's name, the CRM's external id for it, or Decant's id
    territory: str = Field(min_length=1, max_length=80)


def _number(value: Decimal) -> int | float:
    """Money back to a JSON number, as the client sent it (50000, not "50000")."""
    return int(value) if value == value.to_integral_value() else float(value)


Amount = Annotated[Decimal, PlainSerializer(_number, return_type=int | float, when_used="json")]


class HighValue(CamelModel):
    type: Literal["high_value"]
    min_revenue: Amount = Field(ge=0, le=Decimal("1e12"))


class OrderedProduct(CamelModel):
    type: Literal["ordered_product"]
    #: the SKU's public id or its code
    sku_id: str = Field(min_length=1, max_length=40)
    within_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)


class NoOrderInDays(CamelModel):
    type: Literal["no_order_in_days"]
    days: int = Field(ge=1, le=MAX_DAYS)


class EngagementScoreAtLeast(CamelModel):
    type: Literal["engagement_score"]
    min_score: int = Field(ge=0, le=100)


class EngagedInDays(CamelModel):
    """A human click, open or reply, or an order, in the last ``days`` days."""

    type: Literal["engaged_in_days"]
    days: int = Field(ge=1, le=MAX_DAYS)


class EngagementStateIs(CamelModel):
    type: Literal["engagement_state"]
    state: Literal["engaged", "at_risk", "sunset"]


class ClickedCampaign(CamelModel):
    """A person clicked a link of the campaign (machine clicks never count)."""

    type: Literal["clicked_campaign"]
    #: the campaign's public id (``cmp_...``)
    campaign_id: str = Field(min_length=1, max_length=40)


class OpenedNotOrdered(CamelModel):
    """A human open in the last ``days`` days, and no order since that open."""

    type: Literal["opened_not_ordered"]
    days: int = Field(ge=1, le=MAX_DAYS)


class CustomQuery(CamelModel):
    type: Literal["custom"]
    custom_query: dict[str, CustomValue] = Field(min_length=1, max_length=20)

    @field_validator("custom_query")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, allowed in COLUMN_KEYS.items():
            if key in value and value[key] not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}")
        check_custom_fields({k: v for k, v in value.items() if k not in COLUMN_KEYS})
        return value


class AccountTypeIs(CamelModel):
    type: Literal["account_type"]
    account_type: AccountType


class AccountPriorityIs(CamelModel):
    type: Literal["account_priority"]
    account_priority: AccountPriority


class AllOf(CamelModel):
    all: list[Criterion] = Field(min_length=1, max_length=MAX_CHILDREN)


class AnyOf(CamelModel):
    any: list[Criterion] = Field(min_length=1, max_length=MAX_CHILDREN)


class NotOf(CamelModel):
    not_: Criterion = Field(validation_alias="not", serialization_alias="not")


LEAVES: dict[str, type[CamelModel]] = {
    "all_in_territory": AllInTerritory,
    "high_value": HighValue,
    "ordered_product": OrderedProduct,
    "no_order_in_days": NoOrderInDays,
    "engagement_score": EngagementScoreAtLeast,
    "engaged_in_days": EngagedInDays,
    "engagement_state": EngagementStateIs,
    "clicked_campaign": ClickedCampaign,
    "opened_not_ordered": OpenedNotOrdered,
    "custom": CustomQuery,
    "account_type": AccountTypeIs,
    "account_priority": AccountPriorityIs,
}
COMBINATORS = {"all": "all-of", "any": "any-of", "not": "not-of"}
#: Union tags appear as steps in pydantic error locations; they name no field.
TAGS = set(LEAVES) | set(COMBINATORS.values())


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, tag in COMBINATORS.items():
            if key in value:
                return tag
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    if isinstance(value, AllOf):
        return "all-of"
    if isinstance(value, AnyOf):
        return "any-of"
    if isinstance(value, NotOf):
        return "not-of"
    return getattr(value, "type", None)


Criterion = Annotated[
    Annotated[AllInTerritory, Tag("all_in_territory")]
    | Annotated[HighValue, Tag("high_value")]
    | Annotated[OrderedProduct, Tag("ordered_product")]
    | Annotated[NoOrderInDays, Tag("no_order_in_days")]
    | Annotated[EngagementScoreAtLeast, Tag("engagement_score")]
    | Annotated[EngagedInDays, Tag("engaged_in_days")]
    | Annotated[EngagementStateIs, Tag("engagement_state")]
    | Annotated[ClickedCampaign, Tag("clicked_campaign")]
    | Annotated[OpenedNotOrdered, Tag("opened_not_ordered")]
    | Annotated[CustomQuery, Tag("custom")]
    | Annotated[AccountTypeIs, Tag("account_type")]
    | Annotated[AccountPriorityIs, Tag("account_priority")]
    | Annotated[AllOf, Tag("all-of")]
    | Annotated[AnyOf, Tag("any-of")]
    | Annotated[NotOf, Tag("not-of")],
    Discriminator(
        _tag,
        custom_error_type="invalid_criterion",
        custom_error_message="needs a known type ("
        + ", ".join(LEAVES)
        + ") or one of all, any, not",
    ),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()
criterion_adapter: TypeAdapter[Any] = TypeAdapter(Criterion)


def children(node: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """(relative path, child) pairs of a combinator; none for a leaf."""
    if isinstance(node, AllOf):
        return [(("all", i), c) for i, c in enumerate(node.all)]
    if isinstance(node, AnyOf):
        return [(("any", i), c) for i, c in enumerate(node.any)]
    if isinstance(node, NotOf):
        return [(("not",), node.not_)]
    return []


def depth(node: Any) -> int:
    return 1 + max((depth(c) for _, c in children(node)), default=0)


def walk(node: Any, path: tuple[Any, ...] = ()):
    """Every (path, leaf) of a criterion tree."""
    kids = children(node)
    if not kids:
        yield path, node
    for rel, child in kids:
        yield from walk(child, path + rel)


def check_bounds(raw: Any) -> Any:
    """Refuse criteria nested deeper than :data:`MAX_DEPTH` or holding more than
    :data:`MAX_CONDITIONS` conditions, read from the JSON as sent, before pydantic builds
    anything from it (a megabyte of nesting took 50 s to parse and compile)."""
    conditions = values = 0
    stack: list[tuple[Any, int]] = [(raw, 0)]
    while stack:
        value, level = stack.pop()
        values += 1
        if values > MAX_JSON_VALUES:
            raise ValueError(f"criteria hold more than {MAX_JSON_VALUES} values")
        if isinstance(value, dict):
            if "type" in value or any(key in value for key in COMBINATORS):
                conditions += 1
                level += 1
                if conditions > MAX_CONDITIONS:
                    raise ValueError(f"criteria hold more than {MAX_CONDITIONS} conditions")
                if level > MAX_DEPTH:
                    raise ValueError(f"criteria nest deeper than {MAX_DEPTH} levels")
            stack.extend((item, level) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, level) for item in value)
    return raw


def to_json(node: Any) -> dict[str, Any]:
    """The criterion as stored and answered: the original camelCase JSON."""
    return criterion_adapter.dump_python(node, mode="json", by_alias=True, exclude_none=True)


def parse(data: dict[str, Any]) -> Any:
    return criterion_adapter.validate_python(data)


@dataclass
class Context:
    """What a criterion's references resolve to, and the day "N days ago" counts from."""

    territories: dict[str, int] = field(default_factory=dict)
    skus: dict[str, int] = field(default_factory=dict)
    #: campaign public id -> (campaign id, channel)
    campaigns: dict[str, tuple[int, str]] = field(default_factory=dict)
    today: date = field(default_factory=lambda: utcnow().date())


def find_sku(reference: str) -> int | None:
    """A SKU by its public id, its external id (the CRM's, ``sku-123``) or its code, in
    that order."""
    return db.session.scalar(
        select(Sku.id)
        .where(or_(Sku.public_id == reference, Sku.external_id == reference, Sku.code == reference))
        .order_by((Sku.public_id == reference).desc(), (Sku.external_id == reference).desc())
        .limit(1)
    )


def find_territory(reference: str) -> Territory | None:
    """A territory by name, the CRM's external id or Decant's id (in that order)."""
    return db.session.scalar(
        select(Territory)
        .where(
            or_(
                Territory.name == reference,
                Territory.external_id == reference,
                Territory.public_id == reference,
            )
        )
        .order_by((Territory.name == reference).desc(), (Territory.external_id == reference).desc())
        .limit(1)
    )


def find_campaign(public_id: str, user: User | None) -> tuple[int, str] | None:
    """(id, channel) of a campaign the user may see (a rep: their own), by public id."""
    stmt = select(Campaign.id, Campaign.channel).where(Campaign.public_id == public_id)
    if user is not None and not user.sees_all_territories:
        stmt = stmt.where(Campaign.created_by_id == user.id)
    row = db.session.execute(stmt).first()
    return (row[0], row[1]) if row is not None else None


def resolve_references(node: Any, user: User | None, today: date | None = None):
    """Look up territories and SKUs; returns (context, {field path: error})."""
    from app.api.errors import field_path

    ctx = Context(today=today or utcnow().date())
    errors: dict[str, str] = {}
    for path, leaf in walk(node):
        if isinstance(leaf, AllInTerritory):
            territory = find_territory(leaf.territory)
            where = field_path(("criteria", *path, "territory"))
            if territory is None:
                errors[where] = f"unknown territory {leaf.territory!r}"
            elif (
                user is not None
                and not user.sees_all_territories
                and (territory.id != user.territory_id)
            ):
                errors[where] = "outside your territory"
            else:
                ctx.territories[leaf.territory] = territory.id
        elif isinstance(leaf, ClickedCampaign):
            found = find_campaign(leaf.campaign_id, user)
            if found is None:
                errors[field_path(("criteria", *path, "campaignId"))] = "unknown campaign"
            else:
                ctx.campaigns[leaf.campaign_id] = found
        elif isinstance(leaf, OrderedProduct):
            sku_id = find_sku(leaf.sku_id)
            if sku_id is None:
                errors[field_path(("criteria", *path, "skuId"))] = "unknown SKU"
            else:
                ctx.skus[leaf.sku_id] = sku_id
    return ctx, errors


def _json_equals(key: str, value: str | bool | int | float) -> ColumnElement[bool]:
    """custom_fields[key] == value, type-checked so "5" never equals 5 on either database."""
    dialect = db.session.get_bind().dialect.name
    column = Customer.custom_fields
    if dialect == "postgresql":
        kind = func.json_typeof(column.op("->")(key))
        text = column.op("->>")(key)
        if isinstance(value, bool):
            return case((kind == "boolean", text == ("true" if value else "false")), else_=false())
        if isinstance(value, int | float):
            number = case((kind == "number", cast(text, Numeric)))
            return func.coalesce(number == Decimal(str(value)), false())
        return case((kind == "string", text == value), else_=false())
    path = f'$."{key}"'
    kind = func.json_type(column, path)
    raw = func.json_extract(column, path)
    if isinstance(value, bool):
        test = kind == ("true" if value else "false")
    elif isinstance(value, int | float):
        test = and_(kind.in_(("integer", "real")), raw == value)
    else:
        test = and_(kind == "text", raw == value)
    return func.coalesce(test, false())


def _customer_among(orders: Select[Any]) -> ColumnElement[bool]:
    """customer.id is among ``orders``' customer ids, in the form each database plans well.

    Not a correlated subquery on SQLite: it runs once per customer, and there the planner
    may drive it from the wrong index (an ``ordered_product`` scanned the SKU's order lines
    once per customer: 81 s on 20,000 customers); an uncorrelated ``IN`` is computed once
    into a temporary index. PostgreSQL turns a correlated EXISTS into a (hash) semi-join, or
    anti-join under ``not``, where ``NOT IN (subquery)`` falls back to a per-row subplan
    once its hash outgrows work_mem (218 s measured). Both forms are two-valued:
    ``order.customer_id`` is never NULL.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return exists(orders.where(Order.customer_id == Customer.id))
    return Customer.id.in_(orders)


def _leaf(node: Any, ctx: Context) -> ColumnElement[bool]:
    if isinstance(node, AllInTerritory):
        territory_id = ctx.territories[node.territory]
        return and_(Customer.territory_id.is_not(None), Customer.territory_id == territory_id)
    if isinstance(node, HighValue):
        return Customer.lifetime_revenue >= node.min_revenue
    if isinstance(node, OrderedProduct):
        bought = (
            select(Order.customer_id)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(OrderLine.sku_id == ctx.skus[node.sku_id])
        )
        if node.within_days is not None:
            bought = bought.where(Order.order_date >= ctx.today - timedelta(days=node.within_days))
        return _customer_among(bought)
    if isinstance(node, NoOrderInDays):
        cutoff = ctx.today - timedelta(days=node.days)
        recent = select(Order.customer_id).where(Order.order_date >= cutoff)
        return not_(_customer_among(recent))
    if isinstance(node, EngagementScoreAtLeast):
        return Customer.engagement_score >= node.min_score
    if isinstance(node, EngagedInDays):
        since = datetime.combine(ctx.today - timedelta(days=node.days), time.min, tzinfo=UTC)
        return and_(Customer.last_engaged_at.is_not(None), Customer.last_engaged_at >= since)
    if isinstance(node, EngagementStateIs):
        return Customer.engagement_state == node.state
    if isinstance(node, ClickedCampaign):
        campaign_id, channel = ctx.campaigns[node.campaign_id]
        clicked: ColumnElement[bool] = segments.clicked_campaign(channel, campaign_id)
        return clicked
    if isinstance(node, OpenedNotOrdered):
        since = datetime.combine(ctx.today - timedelta(days=node.days), time.min, tzinfo=UTC)
        opened: ColumnElement[bool] = segments.opened_without_order(since)
        return opened
    if isinstance(node, AccountTypeIs):
        return Customer.account_type == node.account_type
    if isinstance(node, AccountPriorityIs):
        return Customer.account_priority == node.account_priority
    if isinstance(node, CustomQuery):
        parts: list[ColumnElement[bool]] = []
        for key, value in node.custom_query.items():
            if key == "accountPriority":
                parts.append(Customer.account_priority == value)
            elif key == "accountType":
                parts.append(Customer.account_type == value)
            else:
                parts.append(_json_equals(key, value))
        return and_(true(), *parts)
    raise TypeError(f"not a criterion: {node!r}")


def compile_criterion(node: Any, ctx: Context) -> ColumnElement[bool]:
    """The WHERE clause over ``customer`` equivalent to the criterion."""
    if isinstance(node, AllOf):
        return and_(true(), *(compile_criterion(c, ctx) for c in node.all))
    if isinstance(node, AnyOf):
        return or_(false(), *(compile_criterion(c, ctx) for c in node.any))
    if isinstance(node, NotOf):
        return not_(compile_criterion(node.not_, ctx))
    return _leaf(node, ctx)
