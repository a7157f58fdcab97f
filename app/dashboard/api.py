"""``GET /api/sales/marketing/dashboard``: the dashboard's figures as JSON."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask_login import current_user
from pydantic import Field

from app.api.spec import CamelModel, api, responses
from app.dashboard import service

bp = Blueprint("dashboard_api", __name__, url_prefix="/api/sales/marketing")


class DashboardQuery(CamelModel):
    from_: date | None = Field(
        default=None, validation_alias="from", description="first day (default: 30 days ago)"
    )
    to: date | None = Field(default=None, description="day after the last (default: tomorrow)")
    territory: str | None = Field(
        default=None, max_length=80, description="name, external id or Decant id"
    )


@bp.get("/dashboard")
@api.validate(query=DashboardQuery, resp=responses(HTTP_200=None), tags=["dashboard"])
def dashboard(query: DashboardQuery) -> dict[str, Any]:
    """Revenue attributed per week, top campaigns by revenue per recipient, each channel's
    human and machine engagement, bounces, complaints (against Gmail's and Yahoo's
    bulk-sender thresholds), opt-outs, and deliverability by kind of recipient domain."""
    scope = service.scope_for(current_user, query.from_, query.to, query.territory)
    return service.dashboard(scope)
