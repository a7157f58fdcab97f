"""Request and response shapes for the CRM API (camelCase on the wire)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel
from app.crm.readback import ChangesQuery

AccountType = Literal["ACTIVE", "PROSPECT", "INACTIVE", "CHURNED"]
AccountPriority = Literal["HIGH", "MEDIUM", "LOW"]
CustomValue = str | int | float | bool | None


def check_custom_fields(value: dict[str, Any]) -> dict[str, Any]:
    """Custom field keys double as template tokens, so they must be identifiers."""
    for key in value:
        if not key.isidentifier() or len(key) > 40:
            raise ValueError(f"custom field key {key!r} must be an identifier of at most 40 chars")
    if len(value) > 50:
        raise ValueError("at most 50 custom fields")
    return value


CustomerSort = Literal[
    "name",
    "email",
    "territory",
    "type",
    "priority",
    "revenue",
    "lastOrder",
    "-name",
    "-email",
    "-territory",
    "-type",
    "-priority",
    "-revenue",
    "-lastOrder",
]


class CustomerQuery(PageQuery, ChangesQuery):
    territory: str | None = Field(default=None, max_length=80)
    account_priority: AccountPriority | None = None
    account_type: AccountType | None = None
    q: str | None = Field(default=None, max_length=200)
    #: name (default), email, territory, type, priority, revenue or lastOrder; a leading
    #: ``-`` sorts descending (``-revenue``: biggest first)
    sort: CustomerSort | None = None


class CustomerCreate(CamelModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    account_type: AccountType = "PROSPECT"
    account_priority: AccountPriority = "MEDIUM"
    territory: str | None = Field(default=None, max_length=80)
    rep_id: str | None = Field(default=None, max_length=64)
    custom_fields: dict[str, CustomValue] = Field(default_factory=dict)

    @field_validator("custom_fields")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_custom_fields(value)


class CustomerPatch(CamelModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    account_type: AccountType | None = None
    account_priority: AccountPriority | None = None
    territory: str | None = Field(default=None, max_length=80)
    rep_id: str | None = Field(default=None, max_length=64)
    custom_fields: dict[str, CustomValue] | None = None

    @field_validator("custom_fields")
    @classmethod
    def _keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_custom_fields(value)


class ChangesPage(OutModel):
    """A page; with updatedSince or cursor, in change order with the next cursor."""

    next_cursor: str | None = None
    has_more: bool | None = None


class ActivityQuery(PageQuery, ChangesQuery):
    customer_id: str | None = Field(default=None, max_length=64)


class PreferencesOut(OutModel):
    email: str
    sms: str


class ContactScoreOut(OutModel):
    channel: str
    address: str
    score: int
    last_engaged_at: datetime | None = None
    current: bool


class CustomerOut(OutModel):
    id: str
    external_id: str | None = None
    name: str
    email: str | None
    phone: str | None
    account_type: str
    account_priority: str
    territory: str | None
    territory_id: str | None
    rep_id: str | None
    rep_name: str | None
    custom_fields: dict[str, Any]
    lifetime_revenue: str
    last_order_date: date | None
    order_count: int = 0
    archived: bool = False
    created_at: datetime
    updated_at: datetime | None = None
    preferences: PreferencesOut
    contact_scores: list[ContactScoreOut] = []


class CustomerPage(ChangesPage):
    items: list[CustomerOut]
    total: int
    page: int
    per_page: int


class ActivityOut(OutModel):
    id: str
    type: str
    subject: str | None
    body: str | None
    direction: str
    occurred_at: datetime
    notes: str | None
    customer_id: str
    user_id: str | None
    user_name: str | None


class ActivityPage(ChangesPage):
    items: list[ActivityOut]
    total: int
    page: int
    per_page: int


class OrderQuery(PageQuery, ChangesQuery):
    customer_id: str | None = Field(default=None, max_length=64)
    since: date | None = None
    until: date | None = None


class OrderLineOut(OutModel):
    sku_id: str
    sku_external_id: str | None = None
    sku_name: str
    quantity: int
    unit_price: str


class OrderOut(OutModel):
    id: str
    external_id: str | None = None
    customer_id: str
    customer_external_id: str | None = None
    rep_id: str | None = None
    order_date: date
    status: str
    total: str
    updated_at: datetime | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    lines: list[OrderLineOut]
    #: GET /orders/<id> only: the message the order is credited to, and why
    attribution: dict[str, Any] | None = None


class OrderPage(ChangesPage):
    items: list[OrderOut]
    total: int
    page: int
    per_page: int


class SkuQuery(PageQuery):
    q: str | None = Field(default=None, max_length=200)


class SkuOut(OutModel):
    id: str
    external_id: str | None = None
    code: str
    name: str
    producer: str | None
    varietal: str | None
    region: str | None
    vintage: int | None
    price: str
    special_price: str | None = None
    active: bool


class SkuPage(OutModel):
    items: list[SkuOut]
    total: int
    page: int
    per_page: int


class TerritoryOut(OutModel):
    id: str
    external_id: str | None = None
    name: str
    timezone: str


class TerritoryPage(OutModel):
    items: list[TerritoryOut]
    total: int
    page: int
    per_page: int


class TerritoryCreate(CamelModel):
    name: str = Field(min_length=1, max_length=80)
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone")
    external_id: str | None = Field(default=None, max_length=64)


class TerritoryPatch(CamelModel):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone")
    external_id: str | None = Field(default=None, max_length=64)


class SkuCreate(CamelModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    producer: str | None = Field(default=None, max_length=120)
    varietal: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=120)
    vintage: int | None = Field(default=None, ge=1800, le=2200)
    unit_price: Decimal = Field(ge=0, le=Decimal("99999999.99"))
    special_price: Decimal | None = Field(
        default=None, ge=0, le=Decimal("99999999.99"), description="the price while on special"
    )
    active: bool = True
    external_id: str | None = Field(default=None, max_length=64)


class SkuPatch(CamelModel):
    code: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    producer: str | None = Field(default=None, max_length=120)
    varietal: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=120)
    vintage: int | None = Field(default=None, ge=1800, le=2200)
    unit_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))
    special_price: Decimal | None = Field(
        default=None, ge=0, le=Decimal("99999999.99"), description="null: not on special"
    )
    active: bool | None = None
    external_id: str | None = Field(default=None, max_length=64)


def sku_data(model: SkuCreate | SkuPatch) -> dict[str, Any]:
    """The fields given, in the catalogue service's names (``unitPrice`` is ``price``)."""
    data = model.model_dump(exclude_unset=not isinstance(model, SkuCreate))
    if "unit_price" in data:
        data["price"] = data.pop("unit_price")
    return data
