"""Customers: contact details normalised as the API does, territory and rep by reference,
custom fields merged (``null`` removes a key), ``archived`` instead of deleting."""

from __future__ import annotations

from app.auth.actor import Actor
from app.auth.models import User
from app.crm import services
from app.crm.imports import contacts, engine
from app.crm.imports.engine import Row
from app.crm.models import Customer, Territory
from app.engagement.score import untouched_values
from app.errors import DomainError
from app.models_base import utcnow

CUSTOMER = Customer.__table__
FIELDS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "account_type": "account_type",
    "account_priority": "account_priority",
    "archived": "archived",
}
COMPARED = [*FIELDS.values(), "territory_id", "rep_id", "custom_fields", "external_id"]
DEFAULTS = {"account_type": "PROSPECT", "account_priority": "MEDIUM", "archived": False}


def plan(rows: list[Row], user: Actor) -> None:
    engine.match_existing(CUSTOMER, rows, COMPARED, "customer")
    engine.fill_targets(
        rows,
        FIELDS,
        DEFAULTS,
        required=("name", "account_type", "account_priority", "archived"),
    )
    _contacts(rows)
    _references(rows)
    _custom_fields(rows)
    engine.classify(rows, COMPARED, Customer.id_prefix)


def _contacts(rows: list[Row]) -> None:
    """E-mail and phone in their canonical forms, as a single create would store them."""
    region = services.phone_region()
    for row in rows:
        if not row.ok:
            continue
        current = row.current or {}
        if "email" in row.given:
            try:
                row.target["email"] = contacts.normalise_email(row.get("email"))
            except DomainError as exc:
                row.errors.update(exc.fields)
        if "phone" in row.given:
            try:
                row.target["phone"] = contacts.normalise_phone(
                    row.get("phone"), current.get("phone"), region
                )
            except DomainError as exc:
                row.errors.update(exc.fields)


def _references(rows: list[Row]) -> None:
    """Territory by external id, Decant id or name; rep by external id, Decant id or email."""
    live = [row for row in rows if row.ok]
    territories = engine.lookup(
        Territory.__table__,
        ("external_id", "public_id", "name"),
        {row.get("territory") for row in live},
    )
    reps = engine.lookup(
        User.__table__, ("external_id", "public_id", "email"), {row.get("rep") for row in live}
    )
    for row in live:
        current = row.current or {}
        row.target["territory_id"] = current.get("territory_id")
        row.target["rep_id"] = current.get("rep_id")
        if "territory" in row.given:
            ref = row.get("territory")
            row.target["territory_id"] = territories.get(ref) if ref else None
            if ref and ref not in territories:
                row.reject("territory", f"unknown territory {ref!r}")
        if "rep" in row.given:
            ref = row.get("rep")
            row.target["rep_id"] = reps.get(ref) if ref else None
            if ref and ref not in reps:
                row.reject("rep", f"unknown user {ref!r}")


def _custom_fields(rows: list[Row]) -> None:
    for row in rows:
        if not row.ok:
            continue
        merged = dict((row.current or {}).get("custom_fields") or {})
        for key, value in (row.get("custom_fields") or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        row.target["custom_fields"] = merged


def write(rows: list[Row], user: Actor) -> set[int]:
    """The customers updated, for their rescore and attribution. Not the ones created: a
    new customer has no touch, message or order yet, so it is stored already scored as a
    rescore would score it (rescoring every new row rewrote it and its 14 index entries
    again, beside the load)."""
    now = utcnow()
    engine.write_inserts(
        CUSTOMER, rows, COMPARED, created_at=now, updated_at=now, **untouched_values(now)
    )
    engine.write_updates(CUSTOMER, rows, COMPARED, updated_at=now)
    return {
        row.current["id"]
        for row in rows
        if row.ok and row.result == engine.UPDATED and row.current is not None
    }
