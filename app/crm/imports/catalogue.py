"""Territories and SKUs: plain records with one natural key each (name, code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.crm.imports import engine
from app.crm.imports.engine import Row
from app.crm.models import Sku, Territory

if TYPE_CHECKING:
    from app.auth.actor import Actor

TERRITORY = Territory.__table__
SKU = Sku.__table__
TERRITORY_FIELDS = {"name": "name", "timezone": "timezone"}
SKU_FIELDS = {
    "code": "code",
    "name": "name",
    "producer": "producer",
    "varietal": "varietal",
    "region": "region",
    "vintage": "vintage",
    "unit_price": "price",
    "active": "active",
}

TERRITORY_COLUMNS = [*TERRITORY_FIELDS.values(), "external_id"]
SKU_COLUMNS = [*SKU_FIELDS.values(), "external_id"]


def plan_territories(rows: list[Row], user: Actor) -> None:
    engine.match_existing(TERRITORY, rows, list(TERRITORY_FIELDS.values()), "territory", "name")
    engine.fill_targets(rows, TERRITORY_FIELDS, {"timezone": "UTC"}, required=("name", "timezone"))
    engine.check_unique(TERRITORY, rows, "name", "name")
    engine.classify(rows, TERRITORY_COLUMNS, Territory.id_prefix)


def write_territories(rows: list[Row], user: Actor) -> set[int]:
    engine.write_inserts(TERRITORY, rows, TERRITORY_COLUMNS)
    engine.write_updates(TERRITORY, rows, TERRITORY_COLUMNS)
    return set()


def plan_skus(rows: list[Row], user: Actor) -> None:
    engine.match_existing(SKU, rows, list(SKU_FIELDS.values()), "SKU", "code")
    engine.fill_targets(
        rows, SKU_FIELDS, {"active": True}, required=("code", "name", "price", "active")
    )
    engine.check_unique(SKU, rows, "code", "code")
    engine.classify(rows, SKU_COLUMNS, Sku.id_prefix)


def write_skus(rows: list[Row], user: Actor) -> set[int]:
    engine.write_inserts(SKU, rows, SKU_COLUMNS)
    engine.write_updates(SKU, rows, SKU_COLUMNS)
    return set()
