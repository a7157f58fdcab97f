"""``/api/sales/reps/<id>/today``: a rep's ranked call list, their actions, and tasks."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint
from flask_login import current_user
from pydantic import Field

from app.api.spec import ApiResponse, CamelModel, api, responses
from app.crm.scoping import get_visible_customer
from app.errors import Forbidden, Invalid
from app.repday import service

bp = Blueprint("repday_api", __name__, url_prefix="/api/sales/reps")
TAGS = ["rep's day"]


def _rep(rep_id: str) -> Any:
    rep = current_user if rep_id == "me" else service.rep_or_404(rep_id)
    service.may_see(current_user, rep)
    return rep


@bp.get("/<rep_id>/today")
@api.validate(resp=responses(HTTP_200=None, HTTP_404=None), tags=TAGS)
def today(rep_id: str) -> dict[str, Any]:
    """The accounts the rep should contact today, ranked, each with the reasons (`me` for
    yourself; a manager may read their reps')."""
    rep = _rep(rep_id)
    rows = service.day_for(rep)
    return {
        "repId": rep.public_id,
        "date": date.today().isoformat(),
        "items": [service.row_json(r) for r in rows],
    }


class ActionIn(CamelModel):
    days: int = Field(default=1, ge=1, le=90, description="snooze: for how many days")
    note: str | None = Field(default=None, max_length=2000, description="call: what was said")


@bp.post("/<rep_id>/today/<customer_id>/<action>")
@api.validate(json=ActionIn, resp=responses(HTTP_204=None, HTTP_404=None), tags=TAGS)
def act(rep_id: str, customer_id: str, action: str, json: ActionIn) -> ApiResponse:
    """`call` logs a call on the customer's timeline and takes the account off today's
    list; `done` takes it off; `snooze` hides it for `days` days. Tasks are closed by
    `call` and `done`."""
    service.act(_rep(rep_id), current_user, customer_id, action, days=json.days, note=json.note)
    return "", 204


class TaskIn(CamelModel):
    customer_id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    due_on: date | None = None


@bp.post("/<rep_id>/tasks")
@api.validate(json=TaskIn, resp=responses(HTTP_201=None, HTTP_404=None), tags=TAGS)
def add_task(rep_id: str, json: TaskIn) -> tuple[dict[str, Any], int]:
    """A task for a rep about an account (managers and admins)."""
    if current_user.role not in ("manager", "admin"):
        raise Forbidden("Only managers and admins give tasks")
    rep = _rep(rep_id)
    customer = get_visible_customer(json.customer_id, current_user)
    if customer is None:
        raise Invalid("Unknown customer", {"customerId": "no such customer"})
    task = service.add_task(current_user, rep, customer, json.title, json.due_on)
    return {"id": task.public_id, "title": task.title}, 201
