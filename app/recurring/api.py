"""/api/sales/marketing/recurring: thin routes over :mod:`app.recurring.service`
(managers and admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from flask_login import current_user

from app.api.limits import TEMPLATE_BODY, body_limit
from app.api.pagination import paginate
from app.api.spec import ApiResponse, api, responses
from app.campaigns import zones
from app.errors import Forbidden, Invalid
from app.recurring import schemas as s
from app.recurring import service
from app.recurring.models import RecurringCampaign
from app.recurring.service import UNSET, Occurrence

bp = Blueprint("recurring_api", __name__, url_prefix="/api/sales/marketing")
TAGS = ["recurring campaigns"]
MANAGERS = ("manager", "admin")
Answer = dict[str, Any] | tuple[dict[str, Any], int]


@bp.before_request
def managers_only() -> None:
    if current_user.role not in MANAGERS:
        raise Forbidden("Only managers and admins run recurring campaigns")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def occurrence_json(rec: RecurringCampaign, occ: Occurrence) -> dict[str, Any]:
    row, campaign = occ.row, occ.campaign
    return {
        "occursAt": _iso(occ.occurs_at),
        "localTime": zones.show(occ.occurs_at, rec.timezone),
        "state": occ.state,
        "edited": occ.edited,
        "subject": row.subject if row else None,
        "html": row.html if row else None,
        "body": row.body if row else None,
        "note": row.note if row else None,
        "campaignId": campaign.public_id if campaign else None,
        "campaignStatus": campaign.status if campaign else None,
    }


def recurring_json(rec: RecurringCampaign, detail: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rec.public_id,
        "name": rec.name,
        "channel": rec.channel,
        "listId": rec.list_id,
        "templateId": service.template_public_id(rec),
        "subject": rec.subject,
        "html": rec.html,
        "body": rec.body,
        "rule": rec.rule,
        "startsAt": rec.starts_at.isoformat(timespec="minutes"),
        "timeZone": rec.timezone,
        "sendLocalTime": rec.send_local_time,
        "featured": rec.featured,
        "status": rec.status,
        "nextAt": _iso(rec.next_at) if rec.status == "active" else None,
    }
    if detail:
        data["occurrences"] = [occurrence_json(rec, o) for o in service.upcoming(rec)]
        data["history"] = [occurrence_json(rec, o) for o in service.history(rec)]
    return data


@bp.get("/recurring")
@api.validate(query=s.RecurringQuery, resp=responses(HTTP_200=s.RecurringPage), tags=TAGS)
def list_recurring(query: s.RecurringQuery) -> Answer:
    """Recurring campaigns, newest first, with their next occurrence."""
    stmt = service.visible()
    if query.status:
        stmt = stmt.where(RecurringCampaign.status == query.status)
    return paginate(stmt, query.page, query.per_page, recurring_json)


@bp.post("/recurring")
@body_limit(TEMPLATE_BODY)
@api.validate(json=s.RecurringIn, resp=responses(HTTP_201=s.RecurringOut), tags=TAGS)
def create_recurring(json: s.RecurringIn) -> Answer:
    """Create an active recurring campaign (a bad RRULE is a 422 naming ``rule``)."""
    rec = service.create(current_user, json.spec())
    return recurring_json(rec, detail=True), 201


@bp.get("/recurring/<recurring_id>")
@api.validate(resp=responses(HTTP_200=s.RecurringOut, HTTP_404=None), tags=TAGS)
def get_recurring(recurring_id: str) -> Answer:
    """A recurring campaign with its next occurrences (state, own edits, campaign) and
    the occurrences that came."""
    return recurring_json(service.get(recurring_id), detail=True)


@bp.patch("/recurring/<recurring_id>")
@body_limit(TEMPLATE_BODY)
@api.validate(
    json=s.RecurringPatch, resp=responses(HTTP_200=s.RecurringOut, HTTP_404=None), tags=TAGS
)
def patch_recurring(recurring_id: str, json: s.RecurringPatch) -> Answer:
    """Change a recurring campaign; campaigns already created keep their message."""
    rec = service.update(service.get(recurring_id), current_user, json.spec())
    return recurring_json(rec, detail=True)


@bp.delete("/recurring/<recurring_id>")
@api.validate(resp=responses(HTTP_204=None, HTTP_404=None), tags=TAGS)
def delete_recurring(recurring_id: str) -> ApiResponse:
    """Stop and delete it; campaigns it already created stay."""
    service.delete(service.get(recurring_id))
    return "", 204


def _state_route(action: str) -> None:
    @api.validate(resp=responses(HTTP_200=s.RecurringOut, HTTP_404=None), tags=TAGS)
    def change(recurring_id: str) -> Answer:
        return recurring_json(service.set_status(service.get(recurring_id), action), True)

    change.__name__ = f"{action}_recurring"
    change.__doc__ = f"{action.capitalize()} a recurring campaign." + (
        " It goes on from the next occurrence to come." if action == "resume" else ""
    )
    bp.post(f"/recurring/<recurring_id>/{action}")(change)


for _action in ("pause", "resume"):
    _state_route(_action)


def parse_occurrence(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid("bad time", {"occursAt": "an ISO time such as 2026-12-08T08:00:00Z"}) from exc
    return when


@bp.patch("/recurring/<recurring_id>/occurrences/<occurs_at>")
@body_limit(TEMPLATE_BODY)
@api.validate(
    json=s.OccurrencePatch,
    resp=responses(HTTP_200=s.OccurrenceOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def patch_occurrence(recurring_id: str, occurs_at: str, json: s.OccurrencePatch) -> Answer:
    """Skip one occurrence to come, or edit its subject or content, before its campaign
    is created (409 after: change the campaign itself)."""
    rec = service.get(recurring_id)
    when = parse_occurrence(occurs_at)
    content = json.content()
    if content:
        service.edit(rec, when, **{k: content.get(k, UNSET) for k in ("subject", "html", "body")})
    if json.skipped is not None:
        service.skip(rec, when, json.skipped)
    if not content and json.skipped is None:
        raise Invalid("nothing to change", {"skipped": "give skipped, subject, html or body"})
    row = service.occurrence_row(rec, when)
    return occurrence_json(rec, service.Occurrence(when, row.state, row, None))
