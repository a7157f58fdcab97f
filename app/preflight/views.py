"""``/sales/marketing/templates/<id>/preview``: desktop and phone side by side for a chosen
customer, and the pre-flight report on demand (a POST: it fetches links and runs
SpamAssassin, so a page view alone never does)."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request
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


#: An email as a mail client shows it: its own styles, fonts and remote images, but no
#: script, form, frame or plug-in, in a sandbox (a unique origin). The page's own policy
#: (style-src 'self') would strip the design, so the preview is a document of its own.
EMAIL_PREVIEW_CSP = (
    "default-src 'none'; img-src * data: cid:; style-src * 'unsafe-inline'; font-src *; "
    "frame-ancestors 'self'; sandbox"
)


@bp.get("/templates/<template_id>/preview.html")
def template_preview_document(template_id: str) -> ResponseReturnValue:
    """The rendered email alone, for the preview frames (desktop and phone widths)."""
    template = service.email_template(template_id)
    customer = service.customer_for(current_user, request.args.get("customer") or None)
    preview = service.render_preview(template.subject or "", template.html or "", customer)
    response = make_response(preview.html)
    response.headers["Content-Security-Policy"] = EMAIL_PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"  # framed by the preview page only
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@bp.post("/campaigns/<campaign_id>/preflight")
def campaign_preflight(campaign_id: str) -> ResponseReturnValue:
    """The pre-flight report of an email campaign's content, checked against its own list
    (tokens without a value), before it is sent: from the review page."""
    from app.campaigns import service as campaigns

    try:
        campaign = campaigns.get(campaign_id, current_user)
    except DomainError:
        abort(404)
    if campaign.channel != "email":
        abort(404)
    error = None
    preview = report = None
    try:
        preview, report = service.run(
            current_user,
            subject=campaign.subject,
            html=campaign.html,
            list_ref=campaign.audience_ref if campaign.audience_type == "list" else None,
            check_links=True,
            campaign=campaign,
        )
    except DomainError as exc:
        error = exc.text()
    return render_template(
        "preflight/campaign.html", campaign=campaign, preview=preview, report=report, error=error
    )
