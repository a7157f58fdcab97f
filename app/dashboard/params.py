"""The period and territory a dashboard page or export was asked for (``?from=&to=
&territory=``), read the same way by the dashboard and the revenue breakdown."""

from __future__ import annotations

from datetime import date

from flask import request
from flask_login import current_user
from sqlalchemy import select

from app.crm.models import Territory
from app.dashboard import service
from app.dashboard.metrics import Scope
from app.errors import Invalid
from app.extensions import db


def day_arg(name: str) -> date | None:
    """The query argument ``name`` as a date (None when absent or empty)."""
    raw = request.args.get(name) or ""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError as exc:
        raise Invalid("Bad date", {name: "a date is YYYY-MM-DD"}) from exc


def requested_scope() -> Scope:
    """The request's period and territory, as the signed-in user may see them."""
    return service.scope_for(
        current_user, day_arg("from"), day_arg("to"), request.args.get("territory") or None
    )


def territory_choices() -> list[tuple[str, str]]:
    """(public id, name) of the territories the user may pick (none for a rep)."""
    if not current_user.sees_all_territories:
        return []
    return [
        (t.public_id, t.name)
        for t in db.session.scalars(select(Territory).order_by(Territory.name))
    ]
