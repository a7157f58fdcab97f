"""Users (reps, managers, admins): no passwords over the API. A new user gets an invite
link, returned once in its report row, to set one (app/auth/invites.py)."""

from __future__ import annotations

from app.auth.actor import Actor
from app.auth.models import User
from app.crm.imports import engine
from app.crm.imports.engine import Row
from app.crm.imports.rows import UserRow
from app.crm.models import Territory
from app.models_base import utcnow

USER = User.__table__
FIELDS = {"name": "name", "email": "email", "role": "role", "active": "active"}
COMPARED = [*FIELDS.values(), "territory_id", "external_id"]


def plan(rows: list[Row], user: Actor) -> None:
    engine.match_existing(USER, rows, COMPARED, "user", "email")
    engine.fill_targets(
        rows, FIELDS, {"active": True}, required=("name", "email", "role", "active")
    )
    _territories(rows)
    for row in rows:
        if not row.ok:
            continue
        if row.target["role"] == "rep" and row.target["territory_id"] is None:
            row.reject("territory", "a rep needs a territory")
        if row.current is not None and row.current["id"] == user.id:
            if row.target["role"] != row.current["role"]:
                row.reject("role", "you cannot change your own role")
            if not row.target["active"]:
                row.reject("active", "you cannot deactivate yourself")
    engine.check_unique(USER, rows, "email", "email", normalise=str.lower)
    engine.classify(rows, COMPARED, User.id_prefix)


def _territories(rows: list[Row]) -> None:
    live = [row for row in rows if row.ok]
    found = engine.lookup(
        Territory.__table__,
        ("external_id", "public_id", "name"),
        {row.get("territory") for row in live},
    )
    for row in live:
        row.target["territory_id"] = (row.current or {}).get("territory_id")
        if "territory" in row.given:
            ref = row.get("territory")
            row.target["territory_id"] = found.get(ref) if ref else None
            if ref and ref not in found:
                row.reject("territory", f"unknown territory {ref!r}")


def write(rows: list[Row], user: Actor) -> set[int]:
    now = utcnow()
    engine.write_inserts(USER, rows, COMPARED, created_at=now, updated_at=now)
    engine.write_updates(USER, rows, COMPARED, updated_at=now)
    return set()


def after_commit(rows: list[Row]) -> None:
    """Each new user's one-time invite link, for the report (it is not stored)."""
    from app.auth.invites import invite_url  # app.auth imports the CRM models first

    for row in rows:
        if row.ok and row.result == engine.CREATED and isinstance(row.data, UserRow):
            row.extra["inviteUrl"] = invite_url(row.public_id)  # type: ignore[arg-type]
