"""The rows an import takes (camelCase on the wire) and the report it answers.

A field left out of a row keeps its current value on an update and its default on a
create; ``null`` clears it. References (``territory``, ``rep``, ``customer``, ``sku``)
take the source system's external id, a Decant id, or a natural key (a territory's name,
a user's email, a SKU's code).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, RootModel, field_validator

from app.api.spec import CamelModel, OutModel
from app.crm.models import EXTERNAL_ID_LENGTH
from app.crm.schemas import AccountPriority, AccountType, CustomValue, check_custom_fields

ORDER_STATUSES = (
    "pending",
    "confirmed",
    "shipped",
    "delivered",
    "invoiced",
    "cancelled",
    "returned",
)
#: orders that count towards revenue, order count and last order date
UNCOUNTED_STATUSES = ("cancelled", "returned")
Reference = str
ExternalId = Field(default=None, min_length=1, max_length=EXTERNAL_ID_LENGTH)
PublicId = Field(default=None, min_length=1, max_length=32)
RefField = Field(default=None, min_length=1, max_length=254)
UtmField = Field(default=None, max_length=100)


class _Row(CamelModel):
    external_id: str | None = ExternalId
    id: str | None = PublicId


class TerritoryRow(_Row):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    timezone: str | None = Field(default=None, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class SkuRow(_Row):
    code: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    producer: str | None = Field(default=None, max_length=120)
    varietal: str | None = Field(default=None, max_length=80)
    region: str | None = Field(default=None, max_length=120)
    vintage: int | None = Field(default=None, ge=1800, le=2200)
    unit_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))
    active: bool | None = None

    @field_validator("unit_price")
    @classmethod
    def _cents(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.01"))


class CustomerRow(_Row):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    account_type: AccountType | None = None
    account_priority: AccountPriority | None = None
    territory: Reference | None = RefField
    rep: Reference | None = RefField
    custom_fields: dict[str, CustomValue] | None = None
    archived: bool | None = None

    @field_validator("custom_fields")
    @classmethod
    def _keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_custom_fields(value)


class OrderLineRow(CamelModel):
    sku: Reference = Field(min_length=1, max_length=EXTERNAL_ID_LENGTH)
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))

    @field_validator("unit_price")
    @classmethod
    def _cents(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else value.quantize(Decimal("0.01"))


class OrderRow(_Row):
    customer: Reference | None = RefField
    order_date: date | None = None
    status: str | None = Field(default=None, max_length=16)
    rep: Reference | None = RefField
    lines: list[OrderLineRow] | None = Field(default=None, min_length=1, max_length=1000)
    #: the UTM parameters of the visit a web order came from; an order whose
    #: ``utmCampaign`` names a Decant campaign is credited to it first
    utm_source: str | None = UtmField
    utm_medium: str | None = UtmField
    utm_campaign: str | None = UtmField

    @field_validator("utm_source", "utm_medium", "utm_campaign")
    @classmethod
    def _utm(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value not in ORDER_STATUSES:
            raise ValueError(f"status must be one of {', '.join(ORDER_STATUSES)}")
        return value


class UserRow(_Row):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=254)
    role: Literal["admin", "manager", "rep"] | None = None
    territory: Reference | None = RefField
    active: bool | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from exc


ROW_MODELS: dict[str, type[_Row]] = {
    "territories": TerritoryRow,
    "skus": SkuRow,
    "customers": CustomerRow,
    "orders": OrderRow,
    "users": UserRow,
}


class ImportBody(RootModel[list[TerritoryRow | SkuRow | CustomerRow | OrderRow | UserRow]]):
    """A JSON array of rows, or the same rows as NDJSON (``application/x-ndjson``): one
    object a line. Each row has the shape of the entity in the path (territories:
    TerritoryRow, skus: SkuRow, customers: CustomerRow, orders: OrderRow, users: UserRow)."""


class ImportRowOut(OutModel):
    index: int
    external_id: str | None
    result: Literal["created", "updated", "unchanged", "rejected"]
    id: str | None
    errors: dict[str, str]
    invite_url: str | None = None


class ImportReport(OutModel):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[ImportRowOut]
