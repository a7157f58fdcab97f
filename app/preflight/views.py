"""``/sales/marketing/templates/<id>/preview``: desktop and phone side by side for a chosen
customer, and the pre-flight report on demand (a POST: it fetches links and runs
SpamAssassin, so a page view alone never does)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.errors import DomainError
from app.messaging import audiences
from app.preflight import service

bp = Blueprint("preflight", __name__, url_prefix="/sales/marketing")


@bp.route("/templates/<template_id>/preview", methods=["GET", "POST"])
def template_preview(template_id: str) -> ResponseReturnValue:
    template = service.email_template(template_id)
    source = request.form if request.method == "POST" else request.args
    customer_ref = source.get("customer") or None
    list_ref = source.get("list") or None
    check_links = request.method == "POST" and source.get("check_links") == "on"
    error: str | None = None
    preview = report = None
    status = 200
    try:
        if request.method == "POST":
            preview, report = service.run_for_template(
                current_user,
                template.public_id,
                customer_ref=customer_ref,
                list_ref=list_ref,
                check_links=check_links,
            )
        else:
            preview = service.render_preview(
                template.subject or "",
                template.html or "",
                service.customer_for(current_user, customer_ref),
            )
    except DomainError as exc:
        error, status = exc.text(), exc.status
    return (
        render_template(
            "preflight/page.html",
            template=template,
            preview=preview,
            report=report,
            error=error,
            customers=service.customer_choices(current_user),
            lists=audiences.choices("list", current_user),
            chosen_customer=customer_ref or "",
            chosen_list=list_ref or "",
            check_links=check_links or request.method == "GET",
        ),
        status,
    )
