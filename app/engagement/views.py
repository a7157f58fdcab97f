"""The sunset report page (``/sales/marketing/sunset``), its CSV, the re-permission
button, and the public "you stay subscribed" page the keep-me link lands on."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.auth.access import public
from app.brand import public_page
from app.campaigns.forms import ActionForm
from app.engagement import repermission, report
from app.errors import DomainError
from app.extensions import db

bp = Blueprint("sunset", __name__, url_prefix="/sales/marketing")
kept_bp = Blueprint("sunset_public", __name__)
PER_PAGE = 50


@bp.get("/sunset")
def report_page() -> ResponseReturnValue:
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(
        report.sunset_customers(current_user), page=page, per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "engagement/sunset.html",
        pagination=pagination,
        rows=report.rows(list(pagination.items)),
        form=ActionForm(),
    )


@bp.get("/sunset.csv")
def export() -> ResponseReturnValue:
    return Response(
        report.csv_lines(current_user),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="sunset.csv"'},
    )


@bp.post("/sunset/re-permission")
def re_permission() -> Any:
    """One click: a draft to everyone sunset, reviewed before anything is sent."""
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "warning")
        return redirect(url_for("sunset.report_page"))
    try:
        campaign = repermission.create_campaign(current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.text(), "warning")
        return redirect(url_for("sunset.report_page"))
    flash(f"Draft “{campaign.name}” created: review it, then send.", "success")
    return redirect(url_for("campaigns.review_page", campaign_id=campaign.public_id))


@kept_bp.get(repermission.KEEP_ME_PATH)
@public
def kept() -> ResponseReturnValue:
    """Where "Yes, keep me" lands, after the tracked click recorded it."""
    return public_page("engagement/kept.html")
