"""``/api/webhook-endpoints``: admins register the host CRM's endpoints and see deliveries."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from flask_login import current_user
from pydantic import Field

from app.api.pagination import PageQuery, paginate
from app.api.spec import ApiResponse, CamelModel, OutModel, api, responses
from app.auth.access import role_required
from app.outbound import services

bp = Blueprint("outbound_api", __name__, url_prefix="/api/webhook-endpoints")
TAGS = ["outbound webhooks"]

EventType = Literal[
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.opened",
    "message.clicked",
    "message.unsubscribed",
    "sms.received",
    "consent.changed",
    "import.finished",
]


@bp.before_request
@role_required("admin")
def _admins_only() -> None:
    return None


class EndpointCreate(CamelModel):
    url: str = Field(max_length=2000, description="http:// or https:// URL to POST events to")
    events: list[EventType] = Field(min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=200)
    active: bool = True


class EndpointPatch(CamelModel):
    url: str | None = Field(default=None, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class EndpointOut(OutModel):
    id: str
    url: str
    description: str | None
    events: list[str]
    active: bool
    failing_since: str | None
    disabled_at: str | None
    disabled_reason: str | None
    created_at: str | None
    secret: str | None = Field(default=None, description="only when created or rotated")


class EndpointPage(OutModel):
    items: list[EndpointOut]
    total: int
    page: int
    per_page: int


class SecretOut(OutModel):
    secret: str


class AttemptOut(OutModel):
    at: str | None
    status_code: int | None
    response_ms: int | None
    error: str | None
    trigger: str


class DeliveryOut(OutModel):
    id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]


class DeliveryPage(OutModel):
    items: list[DeliveryOut]
    total: int
    page: int
    per_page: int


@bp.get("")
@api.validate(query=PageQuery, resp=responses(HTTP_200=EndpointPage), tags=TAGS)
def list_endpoints(query: PageQuery) -> ApiResponse:
    """Registered endpoints (admins only). Secrets are not listed."""
    from sqlalchemy import select

    from app.outbound.models import OutboundEndpoint

    stmt = select(OutboundEndpoint).order_by(OutboundEndpoint.id)
    return paginate(stmt, query.page, query.per_page, services.endpoint_json)


@bp.post("")
@api.validate(json=EndpointCreate, resp=responses(HTTP_201=EndpointOut), tags=TAGS)
def create_endpoint(json: EndpointCreate) -> ApiResponse:
    """Register an endpoint. The answer carries its `secret` (`whsec_...`): verify each
    request's `webhook-signature` with it (Standard Webhooks). `GET .../secret` shows it
    again."""
    endpoint, secret = services.create_endpoint(
        json.url,
        list(json.events),
        description=json.description,
        active=json.active,
        user=current_user,
    )
    return services.endpoint_json(endpoint, secret), 201


@bp.get("/<endpoint_id>")
@api.validate(resp=responses(HTTP_200=EndpointOut, HTTP_404=None), tags=TAGS)
def get_endpoint(endpoint_id: str) -> ApiResponse:
    return services.endpoint_json(services.get_endpoint(endpoint_id))


@bp.patch("/<endpoint_id>")
@api.validate(json=EndpointPatch, resp=responses(HTTP_200=EndpointOut, HTTP_404=None), tags=TAGS)
def patch_endpoint(endpoint_id: str, json: EndpointPatch) -> ApiResponse:
    """Change the URL, events, description, or switch it on (which clears a failure
    record) or off."""
    endpoint = services.get_endpoint(endpoint_id)
    changes = json.model_dump(exclude_unset=True)
    return services.endpoint_json(services.update_endpoint(endpoint, changes))


@bp.delete("/<endpoint_id>")
@api.validate(resp=responses(HTTP_204=None, HTTP_404=None), tags=TAGS)
def delete_endpoint(endpoint_id: str) -> ApiResponse:
    """Delete the endpoint and its delivery log."""
    services.delete_endpoint(services.get_endpoint(endpoint_id))
    return "", 204


@bp.get("/<endpoint_id>/secret")
@api.validate(resp=responses(HTTP_200=SecretOut, HTTP_404=None), tags=TAGS)
def get_secret(endpoint_id: str) -> ApiResponse:
    """The endpoint's signing secret."""
    return {"secret": services.reveal_secret(services.get_endpoint(endpoint_id))}


@bp.post("/<endpoint_id>/secret")
@api.validate(resp=responses(HTTP_200=SecretOut, HTTP_404=None), tags=TAGS)
def rotate_secret(endpoint_id: str) -> ApiResponse:
    """A new signing secret (the old one stops at once)."""
    return {"secret": services.rotate_secret(services.get_endpoint(endpoint_id))}


@bp.get("/<endpoint_id>/deliveries")
@api.validate(query=PageQuery, resp=responses(HTTP_200=DeliveryPage, HTTP_404=None), tags=TAGS)
def list_deliveries(endpoint_id: str, query: PageQuery) -> ApiResponse:
    """Deliveries to this endpoint, newest first, each with its attempts (status code,
    response time in ms, error)."""
    endpoint = services.get_endpoint(endpoint_id)
    return paginate(
        services.deliveries(endpoint), query.page, query.per_page, services.delivery_json
    )


@bp.post("/<endpoint_id>/deliveries/<delivery_id>/resend")
@api.validate(resp=responses(HTTP_200=DeliveryOut, HTTP_404=None, HTTP_409=None), tags=TAGS)
def resend_delivery(endpoint_id: str, delivery_id: str) -> ApiResponse:
    """Send the delivery again now, with the same `webhook-id`."""
    delivery = services.get_delivery(services.get_endpoint(endpoint_id), delivery_id)
    services.resend(delivery)
    return services.delivery_json(delivery)
