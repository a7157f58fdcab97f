"""``/sales/marketing/dashboard``: the figures of :mod:`app.dashboard.service` with charts
(Chart.js, served from npm) and a CSV export of the same numbers."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from app.dashboard import service
from app.dashboard.params import requested_scope, territory_choices
from app.errors import DomainError

bp = Blueprint("dashboard", __name__, url_prefix="/sales/marketing")


def _figures() -> dict[str, Any]:
    return service.dashboard(requested_scope())


@bp.get("/dashboard")
def page() -> ResponseReturnValue:
    territories = territory_choices()
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
