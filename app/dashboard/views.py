"""``/sales/marketing/dashboard``: the figures of :mod:`app.dashboard.service` with charts
(Chart.js, served from npm) and a CSV export of the same numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.crm.models import Territory
from app.dashboard import service
from app.errors import DomainError
from app.extensions import db

bp = Blueprint("dashboard", __name__, url_prefix="/sales/marketing")


def _day(name: str) -> date | None:
    raw = request.args.get(name) or ""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError as exc:
        raise DomainError("Bad date", {name: "a date is YYYY-MM-DD"}) from exc


def _figures() -> dict[str, Any]:
    scope = service.scope_for(
        current_user, _day("from"), _day("to"), request.args.get("territory") or None
    )
    return service.dashboard(scope)


@bp.get("/dashboard")
def page() -> ResponseReturnValue:
    territories: list[tuple[str, str]] = []
    if current_user.sees_all_territories:
        territories = [
            (t.public_id, t.name)
            for t in db.session.scalars(select(Territory).order_by(Territory.name))
        ]
    try:
        figures, error, status = _figures(), None, 200
    except DomainError as exc:
        figures, error, status = None, exc.text(), exc.status
    return (
        render_template(
            "dashboard/page.html",
            figures=figures,
            chart_data=json.dumps(figures) if figures else "{}",
            error=error,
            territories=territories,
            args=request.args,
        ),
        status,
    )


@bp.get("/dashboard.csv")
def export() -> ResponseReturnValue:
    figures = _figures()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "value"])
    writer.writerow(["period", "from", figures["from"]])
    writer.writerow(["period", "to", figures["to"]])
    writer.writerow(["revenue", "attributedRevenue", figures["attributedRevenue"]])
    writer.writerow(["revenue", "attributedOrders", figures["attributedOrders"]])
    for week in figures["revenueByWeek"]:
        writer.writerow(["revenueByWeek", week["week"], week["revenue"]])
    for channel, values in figures["channels"].items():
        for key, value in values.items():
            if not isinstance(value, list | dict):
                writer.writerow([channel, key, value])
    for key, value in figures["compliance"].items():
        writer.writerow(["compliance", key, value])
    for campaign in figures["topCampaigns"]:
        writer.writerow(["topCampaigns", campaign["name"], campaign["revenuePerRecipient"]])
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="decant-dashboard.csv"'},
    )
