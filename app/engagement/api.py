"""``/api/sales/marketing/sunset``: who is sunset, and the re-permission campaign."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import current_user

from app.api.pagination import PageQuery
from app.api.spec import api, responses
from app.campaigns import reports
from app.engagement import repermission, report
from app.extensions import db

bp = Blueprint("sunset_api", __name__, url_prefix="/api/sales/marketing")
TAGS = ["engagement"]


@bp.get("/sunset")
@api.validate(query=PageQuery, resp=responses(HTTP_200=None), tags=TAGS)
def sunset_report(query: PageQuery) -> dict[str, Any]:
    """Sunset customers you may see: since when, emails received in the sunset window
    (``SUNSET_DAYS``) and the last human engagement; longest sunset first."""
    pagination = db.paginate(
        report.sunset_customers(current_user),
        page=query.page,
        per_page=query.per_page,
        error_out=False,
    )
    return {
        "items": report.rows(list(pagination.items)),
        "total": pagination.total or 0,
        "page": query.page,
        "perPage": query.per_page,
    }


@bp.post("/sunset/re-permission")
@api.validate(resp=responses(HTTP_201=None, HTTP_422=None), tags=TAGS)
def re_permission() -> tuple[dict[str, Any], int]:
    """A draft email campaign to everyone sunset ("Do you still want to hear from us?",
    ``includeSunset`` set); review and send it like any campaign."""
    campaign = repermission.create_campaign(current_user)
    return reports.campaign_json(campaign), 201
