"""A customer's consent and contact preferences as staff see and record them.

Consent itself lives in the ledger (:mod:`app.messaging.consent`, per address and
channel); this module shapes it for the customer page and the API and keeps the
preferred contact window and time zone, which belong to the customer.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from app.crm.models import Customer
from app.crm.services import preference_for
from app.current import app_object
from app.errors import Invalid
from app.extensions import db
from app.messaging import consent
from app.signals import customer_changed


def parse_clock(value: str | None, field: str) -> time | None:
    """``"09:30"`` -> time; empty -> None; anything else a 422 naming ``field``."""
    if value is None or not str(value).strip():
        return None
    try:
        return datetime.strptime(str(value).strip(), "%H:%M").time()
    except ValueError as exc:
        raise Invalid("not a time", {field: "use HH:MM, e.g. 09:00"}) from exc


def check_zone(name: str | None, field: str = "timezone") -> str | None:
    if name is None or not name.strip():
        return None
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("unknown time zone", {field: f"unknown time zone {name!r}"}) from exc
    return name


def set_contact_preferences(
    customer: Customer, *, start: str | None, end: str | None, timezone: str | None
) -> None:
    """The window in which campaign texts may reach the customer, in their zone; both ends
    or neither. Commits."""
    begin, finish = parse_clock(start, "contactWindow.start"), parse_clock(end, "contactWindow.end")
    if (begin is None) != (finish is None):
        raise Invalid(
            "give both ends of the window, or neither",
            {"contactWindow": "give both start and end, or neither"},
        )
    if begin is not None and begin == finish:
        raise Invalid("an empty window", {"contactWindow": "start and end must differ"})
    zone = check_zone(timezone)
    pref = preference_for(customer.id)
    pref.preferred_contact_start, pref.preferred_contact_end, pref.timezone = begin, finish, zone
    db.session.commit()
    customer_changed.send(app_object(), customer_id=customer.id)


def contact_json(customer: Customer, *, history: bool = True) -> dict[str, Any]:
    pref = customer.preference
    doc: dict[str, Any] = {
        "customerId": customer.public_id,
        "channels": consent.summary(customer),
        "contactWindow": (
            {
                "start": pref.preferred_contact_start.strftime("%H:%M"),
                "end": pref.preferred_contact_end.strftime("%H:%M"),
            }
            if pref and pref.preferred_contact_start and pref.preferred_contact_end
            else None
        ),
        "timezone": pref.timezone if pref else None,
    }
    if history:
        doc["history"] = [consent.change_json(e) for e in consent.history(customer)]
    return doc


def zone_names() -> list[str]:
    return sorted(available_timezones())
