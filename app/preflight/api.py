"""``/api/sales/marketing/.../preflight``: the pre-flight report of an email, as JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import current_user
from pydantic import Field

from app.api.spec import CamelModel, OutModel, api, responses
from app.preflight import service
from app.preflight.checks import Report

bp = Blueprint("preflight_api", __name__, url_prefix="/api/sales/marketing")
TAGS = ["templates"]


class PreflightOptions(CamelModel):
    customer_id: str | None = Field(
        default=None, max_length=64, description="render for this customer (else sample values)"
    )
    list_id: str | None = Field(
        default=None, max_length=64, description="check tokens against this list's members"
    )
    check_links: bool = Field(default=True, description="ask each http(s) link for an answer")
    subject: str | None = Field(default=None, max_length=300, description="unsaved subject")
    html: str | None = Field(default=None, max_length=500_000, description="unsaved HTML")


class PreflightContent(PreflightOptions):
    subject: str | None = Field(default=None, max_length=300)
    html: str = Field(min_length=1, max_length=500_000)


class FindingOut(OutModel):
    check: str
    level: str
    message: str
    items: list[str]


class SpamOut(OutModel):
    available: bool
    score: float | None
    required: float | None
    rules: list[dict[str, Any]]
    note: str | None


class ReportOut(OutModel):
    size_bytes: int
    links_checked: int
    findings: list[FindingOut]
    spam: SpamOut
    ok: bool


class PreviewOut(OutModel):
    subject: str
    html: str
    text: str
    customer_id: str | None


class PreflightOut(OutModel):
    preview: PreviewOut
    report: ReportOut


def _answer(preview: service.Preview, report: Report) -> dict[str, Any]:
    return {
        "preview": {
            "subject": preview.subject,
            "html": preview.html,
            "text": preview.text,
            "customerId": preview.customer.public_id if preview.customer else None,
        },
        "report": report.as_json(),
    }


@bp.post("/templates/<template_id>/preflight")
@api.validate(
    json=PreflightOptions, resp=responses(HTTP_200=PreflightOut, HTTP_404=None), tags=TAGS
)
def template_preflight(template_id: str, json: PreflightOptions) -> dict[str, Any]:
    """Pre-flight of an email template (its saved content, or the unsaved `subject`/`html`
    sent along): missing unsubscribe link, images without alt, size over Gmail's 102 KB,
    links that answer an error, tokens without a value for part of a list, spam score."""
    preview, report = service.run_for_template(
        current_user,
        template_id,
        subject=json.subject,
        html=json.html,
        customer_ref=json.customer_id,
        list_ref=json.list_id,
        check_links=json.check_links,
    )
    return _answer(preview, report)


@bp.post("/preflight")
@api.validate(json=PreflightContent, resp=responses(HTTP_200=PreflightOut), tags=TAGS)
def content_preflight(json: PreflightContent) -> dict[str, Any]:
    """Pre-flight of email content not saved as a template (a campaign's own HTML)."""
    preview, report = service.run(
        current_user,
        subject=json.subject,
        html=json.html,
        customer_ref=json.customer_id,
        list_ref=json.list_id,
        check_links=json.check_links,
    )
    return _answer(preview, report)
