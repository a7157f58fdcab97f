"""Admins see the webhook events that could not be applied: a page and a JSON list.

An event lands here when it is still pending after a failure (with its next attempt) or
failed for good after WEBHOOK_MAX_ATTEMPTS; "Retry now" applies it again at once.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from pydantic import Field
from sqlalchemy import Select, select

from app.api.pagination import PageQuery, paginate
from app.api.spec import OutModel, api, responses
from app.auth.access import role_required
from app.extensions import db
from blueprints.webhooks.blueprint import retry
from blueprints.webhooks.models import WebhookEvent

bp = Blueprint("webhook_admin", __name__, template_folder="templates")
ADMINS = ("admin",)
PER_PAGE = 50
UNAPPLIED = ("pending", "failed")


@bp.before_request
@role_required(*ADMINS)
def _admins_only() -> None:
    return None


def unapplied(status: str | None = None) -> Select[Any]:
    """Events not applied yet: both states, or one of them; newest first."""
    states = (status,) if status else UNAPPLIED
    return (
        select(WebhookEvent)
        .where(WebhookEvent.status.in_(states))
        .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    )


def event_json(e: WebhookEvent) -> dict[str, Any]:
    return {
        "provider": e.provider,
        "eventId": e.event_id,
        "kind": e.kind,
        "status": e.status,
        "attempts": e.attempts,
        "error": e.error,
        "receivedAt": e.received_at.isoformat() if e.received_at else None,
        "nextAttemptAt": e.next_attempt_at.isoformat() if e.next_attempt_at else None,
    }


class EventOut(OutModel):
    provider: str
    event_id: str
    kind: str
    status: str
    attempts: int
    error: str | None
    received_at: str | None
    next_attempt_at: str | None


class EventPage(OutModel):
    items: list[EventOut]
    total: int
    page: int
    per_page: int


class EventQuery(PageQuery):
    status: str | None = Field(default=None, pattern="^(pending|failed)$")


class RetryForm(FlaskForm):
    """CSRF only."""


@bp.get("/api/sales/marketing/webhook-events")
@api.validate(query=EventQuery, resp=responses(HTTP_200=EventPage), tags=["webhooks"])
def events_api(query: EventQuery):
    """Webhook events not applied (admin only): ``pending`` ones are still retried by the
    sweep; ``failed`` ones gave up after WEBHOOK_MAX_ATTEMPTS and need a person."""
    return paginate(unapplied(query.status), query.page, query.per_page, event_json)


@bp.get("/settings/marketing/webhook-events")
def events_page():
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(unapplied(), page=page, per_page=PER_PAGE, error_out=False)
    return render_template("webhooks/events.html", pagination=pagination, form=RetryForm())


@bp.post("/settings/marketing/webhook-events/<event_ref>/retry")
def retry_event(event_ref: str):
    if not RetryForm().validate_on_submit():
        abort(400)
    row_id = int(event_ref) if event_ref.isdigit() and len(event_ref) < 12 else 0
    if db.session.get(WebhookEvent, row_id) is None:
        abort(404)
    if retry(row_id):
        flash("The event was applied.", "success")
    else:
        flash("The event failed again; its error is below.", "danger")
    return redirect(url_for("webhook_admin.events_page"))
