"""/api/sales/marketing/flows: thin routes over :mod:`app.flows.service` (managers and
admins)."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from flask_login import current_user
from pydantic import Field

from app.api.pagination import PageQuery, paginate
from app.api.spec import CamelModel, api, responses
from app.crm.scoping import get_visible_customer
from app.flows import service
from app.flows.service import FlowInput

bp = Blueprint("flows_api", __name__, url_prefix="/api/sales/marketing")
TAGS = ["flows"]
Answer = dict[str, Any] | tuple[dict[str, Any], int]


class FlowIn(CamelModel):
    """A flow: ``name``, ``trigger`` (``{"type": manual|list_joined|order_placed|no_order|
    clicked|sms_reply|score_reached|date_field, ...}`` with ``listId``, ``days``,
    ``campaignId``, ``keyword``, ``threshold`` or ``field`` (created_at, first_order_date,
    last_order_date or a custom field's key), ``offsetDays`` and ``yearly``),
    the re-entry rule, exits, and ``steps`` (each ``{"key"?, "type", ...}``: email/sms
    ``templateId``; wait ``days``/``hours``/``minutes`` or ``until {weekday, time}``;
    branch ``condition {kind: clicked|replied|ordered|field, field?, equals?}`` with
    ``then``/``else`` (a later key, next or exit); task ``title``, ``dueInDays``; tag
    ``tag``; field ``field``, ``value``; list_add/list_remove ``listId``; exit)."""

    name: str | None = Field(default=None, max_length=120)
    trigger: dict[str, Any] | None = None
    reentry: Literal["never", "after"] | None = None
    reentry_days: int | None = None
    exit_on_order: bool | None = None
    exit_on_reply: bool | None = None
    exit_on_opt_out: bool | None = None
    steps: list[dict[str, Any]] | None = Field(default=None, max_length=50)

    def given(self) -> FlowInput:
        trigger = dict(self.trigger or {})
        trigger_type = trigger.pop("type", None)
        return FlowInput(
            name=self.name,
            trigger_type=str(trigger_type) if trigger_type is not None else None,
            trigger_config=trigger,
            reentry=self.reentry,
            reentry_days=self.reentry_days,
            exit_on_order=self.exit_on_order,
            exit_on_reply=self.exit_on_reply,
            exit_on_opt_out=self.exit_on_opt_out,
            steps=self.steps,
        )


class RunQuery(PageQuery):
    state: Literal["running", "waiting", "done", "exited"] | None = None


class AddIn(CamelModel):
    customer_id: str = Field(min_length=1, max_length=64)


@bp.before_request
def editors_only() -> None:
    """A rep is refused before the body is read (a 403, not a 422 on their input)."""
    service.require_editor(current_user)


def _flow(flow_id: str) -> Any:
    service.require_editor(current_user)
    return service.get(flow_id)


@bp.get("/flows")
@api.validate(query=PageQuery, resp=responses(HTTP_200=None), tags=TAGS)
def list_flows(query: PageQuery) -> Answer:
    """Flows, newest first, each with its steps and per-step counts."""
    service.require_editor(current_user)
    return paginate(service.visible(), query.page, query.per_page, service.flow_json)


@bp.post("/flows")
@api.validate(json=FlowIn, resp=responses(HTTP_201=None), tags=TAGS)
def create_flow(json: FlowIn) -> Answer:
    """A draft flow (nothing runs until ``/activate``)."""
    return service.flow_json(service.create(current_user, json.given())), 201


@bp.get("/flows/<flow_id>")
@api.validate(resp=responses(HTTP_200=None, HTTP_404=None), tags=TAGS)
def get_flow(flow_id: str) -> Answer:
    """A flow with its current version's steps and how many passed, wait or exited at each."""
    return service.flow_json(_flow(flow_id))


@bp.patch("/flows/<flow_id>")
@api.validate(json=FlowIn, resp=responses(HTTP_200=None, HTTP_404=None), tags=TAGS)
def patch_flow(flow_id: str, json: FlowIn) -> Answer:
    """Edit a flow; new steps make a new version (runs in progress finish on theirs)."""
    return service.flow_json(service.update(_flow(flow_id), current_user, json.given()))


@bp.post("/flows/<flow_id>/activate")
@api.validate(resp=responses(HTTP_200=None, HTTP_404=None), tags=TAGS)
def activate_flow(flow_id: str) -> Answer:
    """Start or resume the flow (422 naming each incomplete step field)."""
    return service.flow_json(service.activate(_flow(flow_id), current_user))


@bp.post("/flows/<flow_id>/pause")
@api.validate(resp=responses(HTTP_200=None, HTTP_404=None, HTTP_409=None), tags=TAGS)
def pause_flow(flow_id: str) -> Answer:
    """Pause: no entries, runs wait where they are until activated again."""
    return service.flow_json(service.pause(_flow(flow_id), current_user))


@bp.post("/flows/<flow_id>/runs")
@api.validate(json=AddIn, resp=responses(HTTP_201=None, HTTP_404=None, HTTP_409=None), tags=TAGS)
def add_run(flow_id: str, json: AddIn) -> Answer:
    """Add a customer by hand (the re-entry rule applies)."""
    flow = _flow(flow_id)
    customer = get_visible_customer(json.customer_id, current_user)
    run = service.add_customer(flow, current_user, customer)
    return {"id": run.public_id, "state": run.state, "step": run.current_step}, 201


@bp.get("/flows/<flow_id>/runs")
@api.validate(query=RunQuery, resp=responses(HTTP_200=None, HTTP_404=None), tags=TAGS)
def list_runs(flow_id: str, query: RunQuery) -> Answer:
    """Who is where: the flow's runs, newest first (``state`` filters)."""
    stmt = service.runs_of(_flow(flow_id), query.state)
    return paginate(stmt, query.page, query.per_page, service.run_json, rows=True)
