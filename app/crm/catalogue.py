"""Territories and the SKU catalogue: create and edit, shared by the admin pages and the API.

Plain functions raising the domain errors of :mod:`app.errors`; fields are named as the API
names them (``externalId``, ``unitPrice``), and the pages map them back to their inputs.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, or_, select

from app.crm.contact import check_zone
from app.crm.models import EXTERNAL_ID_LENGTH, Sku, Territory
from app.crm.references import named_by
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db

TERRITORY_FIELDS = ("name", "timezone", "external_id")
SKU_FIELDS = (
    "code",
    "name",
    "producer",
    "varietal",
    "region",
    "vintage",
    "price",
    "active",
    "external_id",
)
#: the API's name of each field, for the error envelope
API_NAMES = {"external_id": "externalId", "price": "unitPrice"}
MAX_PRICE = Decimal("99999999.99")  # Numeric(10, 2)


def _api(field: str) -> str:
    return API_NAMES.get(field, field)


def _text(data: dict[str, Any], field: str, limit: int, *, required: bool = False) -> Any:
    value = data.get(field)
    if isinstance(value, str):
        value = value.strip() or None
    if value is None:
        if required:
            raise Invalid(f"{_api(field)} is required", {_api(field): "required"})
        return None
    if not isinstance(value, str):
        raise Invalid(f"{_api(field)} must be text", {_api(field): "must be text"})
    if len(value) > limit:
        message = f"at most {limit} characters"
        raise Invalid(f"{_api(field)}: {message}", {_api(field): message})
    return value


def _taken(model: Any, column: Any, value: Any, row_id: int | None, field: str) -> None:
    stmt = select(model.id).where(column == value)
    if row_id is not None:
        stmt = stmt.where(model.id != row_id)
    if value is not None and db.session.scalar(stmt.limit(1)) is not None:
        message = f"another {model.__tablename__} has this {field.replace('_', ' ')}"
        raise Conflict(message, {_api(field): message})


# --- territories ------------------------------------------------------------------------


def find_territory(key: str) -> Territory:
    found = db.session.scalar(select(Territory).where(named_by(Territory, key)))
    if found is None:
        raise NotFound("territory not found")
    return found


def _territory_values(data: dict[str, Any], current: Territory | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if current is None or "name" in data:
        values["name"] = _text(data, "name", 80, required=True)
    if current is None or "timezone" in data:
        values["timezone"] = check_zone(_text(data, "timezone", 64) or "UTC")
    if "external_id" in data:
        values["external_id"] = _text(data, "external_id", EXTERNAL_ID_LENGTH)
    row_id = current.id if current is not None else None
    if "name" in values:
        _taken(Territory, func.lower(Territory.name), values["name"].lower(), row_id, "name")
    if values.get("external_id"):
        _taken(Territory, Territory.external_id, values["external_id"], row_id, "external_id")
    return values


def create_territory(data: dict[str, Any]) -> Territory:
    """A new territory; ``data`` has name, timezone (default UTC), external_id."""
    territory = Territory(**_territory_values(data, None))
    db.session.add(territory)
    db.session.commit()
    return territory


def update_territory(territory: Territory, data: dict[str, Any]) -> Territory:
    """Change the fields ``data`` names (rename, time zone, external id)."""
    for field, value in _territory_values(data, territory).items():
        setattr(territory, field, value)
    db.session.commit()
    return territory


def territories_with_counts() -> list[tuple[Territory, int, int]]:
    """Every territory with its number of users and customers (three small queries)."""
    from app.auth.models import User  # app.auth imports the CRM models first
    from app.crm.models import Customer

    users = dict(
        db.session.execute(
            select(User.territory_id, func.count()).group_by(User.territory_id)
        ).all()
    )
    customers = dict(
        db.session.execute(
            select(Customer.territory_id, func.count()).group_by(Customer.territory_id)
        ).all()
    )
    rows = db.session.scalars(select(Territory).order_by(Territory.name)).all()
    return [(t, users.get(t.id, 0), customers.get(t.id, 0)) for t in rows]


# --- SKUs -------------------------------------------------------------------------------


def find_sku(key: str) -> Sku:
    found = db.session.scalar(select(Sku).where(named_by(Sku, key) | (Sku.code == key)))
    if found is None:
        raise NotFound("SKU not found")
    return found


def skus_query(q: str | None = None, active: bool | None = None) -> Select[Any]:
    """The catalogue by name, narrowed by ``q`` (name, code, producer, varietal, region)."""
    stmt = select(Sku).order_by(Sku.name, Sku.id)
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(
                Sku.name.ilike(pattern),
                Sku.code.ilike(pattern),
                Sku.producer.ilike(pattern),
                Sku.varietal.ilike(pattern),
                Sku.region.ilike(pattern),
                Sku.external_id == q.strip(),
            )
        )
    if active is not None:
        stmt = stmt.where(Sku.active.is_(active))
    return stmt


def _price(value: Any) -> Decimal:
    try:
        price = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise Invalid("unitPrice must be a number", {"unitPrice": "must be a number"}) from exc
    if not Decimal("0") <= price <= MAX_PRICE:
        message = f"between 0 and {MAX_PRICE}"
        raise Invalid(f"unitPrice: {message}", {"unitPrice": message})
    return price


def _special_price(value: Any, values: dict[str, Any], current: Sku | None) -> Decimal | None:
    """A special is a price below the regular one (None: not on special)."""
    if value is None:
        return None
    special = Decimal(str(value)).quantize(Decimal("0.01"))
    regular = values.get("price", current.price if current is not None else None)
    if special < 0 or (regular is not None and special >= regular):
        message = "below the regular price (or null: not on special)"
        raise Invalid(f"specialPrice: {message}", {"specialPrice": message})
    return special


def _vintage(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1800 <= value <= 2200:
        raise Invalid("vintage must be a year", {"vintage": "a year between 1800 and 2200"})
    return value


def _sku_values(data: dict[str, Any], current: Sku | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    new = current is None
    if new or "code" in data:
        values["code"] = _text(data, "code", 40, required=True)
    if new or "name" in data:
        values["name"] = _text(data, "name", 200, required=True)
    for field, limit in (("producer", 120), ("varietal", 80), ("region", 120)):
        if new or field in data:
            values[field] = _text(data, field, limit)
    if new or "vintage" in data:
        values["vintage"] = _vintage(data.get("vintage"))
    if new or "price" in data:
        if data.get("price") is None:
            raise Invalid("unitPrice is required", {"unitPrice": "required"})
        values["price"] = _price(data["price"])
    if new or "special_price" in data:
        values["special_price"] = _special_price(data.get("special_price"), values, current)
    if new or "active" in data:
        active = data.get("active", True)
        if not isinstance(active, bool):
            raise Invalid("active must be true or false", {"active": "true or false"})
        values["active"] = active
    if "external_id" in data:
        values["external_id"] = _text(data, "external_id", EXTERNAL_ID_LENGTH)
    row_id = current.id if current is not None else None
    if "code" in values:
        _taken(Sku, Sku.code, values["code"], row_id, "code")
    if values.get("external_id"):
        _taken(Sku, Sku.external_id, values["external_id"], row_id, "external_id")
    return values


def create_sku(data: dict[str, Any]) -> Sku:
    """A new SKU; ``data`` uses the model's names (``price``, ``external_id``)."""
    sku = Sku(**_sku_values(data, None))
    db.session.add(sku)
    db.session.commit()
    return sku


def update_sku(sku: Sku, data: dict[str, Any]) -> Sku:
    """Change the fields ``data`` names; orders keep the price they were made at."""
    for field, value in _sku_values(data, sku).items():
        setattr(sku, field, value)
    db.session.commit()
    return sku
