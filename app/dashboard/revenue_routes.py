"""Revenue attributed by campaign, template, rep, territory or SKU bought: the API
(``GET /api/sales/marketing/revenue``), a page and its CSV export. The period and
territory are chosen as on the dashboard (a rep sees their own territory)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from pydantic import Field

from app.api.spec import CamelModel, api, responses
from app.dashboard import api as dashboard_api
from app.dashboard import service
from app.dashboard import views as dashboard_views
from app.dashboard.params import requested_scope, territory_choices
from app.dashboard.revenue import DIMENSIONS, Dimension, revenue_by
from app.errors import DomainError, Invalid

# the dashboard's own blueprints: the same pages, the same access
api_bp = dashboard_api.bp
bp = dashboard_views.bp

LABELS = {
    "campaign": "Campaign",
    "template": "Template",
    "rep": "Rep",
    "territory": "Territory",
    "sku": "SKU bought",
}


class RevenueQuery(CamelModel):
    by: Dimension = Field(
        default="campaign", description="campaign, template, rep, territory or sku"
    )
    from_: date | None = Field(
        default=None, validation_alias="from", description="first day (default: 30 days ago)"
    )
    to: date | None = Field(default=None, description="day after the last (default: tomorrow)")
    territory: str | None = Field(
        default=None, max_length=80, description="name, external id or Decant id"
    )


@api_bp.get("/revenue")
@api.validate(query=RevenueQuery, resp=responses(HTTP_200=None), tags=["dashboard"])
def revenue(query: RevenueQuery) -> dict[str, Any]:
    """Orders and revenue credited (last touch, or the order's UTM campaign) in the
    period, one row per campaign, template, rep, territory or SKU bought."""
    scope = service.scope_for(current_user, query.from_, query.to, query.territory)
    return revenue_by(query.by, scope)


def _figures() -> dict[str, Any]:
    by = request.args.get("by") or "campaign"
    if by not in DIMENSIONS:
        raise Invalid("Bad breakdown", {"by": f"one of {', '.join(DIMENSIONS)}"})
    return revenue_by(by, requested_scope())


@bp.get("/revenue")
def revenue_page() -> ResponseReturnValue:
    territories = territory_choices()
    try:
        figures, error, status = _figures(), None, 200
    except DomainError as exc:
        figures, error, status = None, exc.text(), exc.status
    return (
        render_template(
            "dashboard/revenue.html",
            figures=figures,
            error=error,
            labels=LABELS,
            territories=territories,
            args=request.args,
        ),
        status,
    )


@bp.get("/revenue.csv")
def revenue_export() -> ResponseReturnValue:
    try:
        figures = _figures()
    except DomainError as exc:
        return Response(exc.text(), status=exc.status, mimetype="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([figures["by"], "id", "orders", "revenue"])
    for row in figures["rows"]:
        writer.writerow([row["label"], row["id"] or "", row["orders"], row["revenue"]])
    writer.writerow(["total", "", figures["orders"], figures["revenue"]])
    name = f"decant-revenue-by-{figures['by']}-{figures['from']}-{figures['to']}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
