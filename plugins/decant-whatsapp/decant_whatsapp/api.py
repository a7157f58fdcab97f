"""/api/sales/marketing/whatsapp: send (customer or list), templates, campaign progress."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint
from flask_login import current_user
from pydantic import Field
from sqlalchemy import select

from app.api.errors import not_found, validation_error
from app.api.spec import CamelModel, OutModel, api, responses
from app.auth.access import role_required
from app.extensions import db
from decant_whatsapp import services
from decant_whatsapp.models import WhatsAppTemplate

bp = Blueprint("whatsapp_api", __name__, url_prefix="/api/sales/marketing/whatsapp")
TAGS = ["whatsapp"]


class SendIn(CamelModel):
    """One customer (``customerId``, ``body`` or ``templateId``) or a list (``listId``,
    ``templateId``)."""

    customer_id: str | None = Field(default=None, max_length=40)
    to: str | None = Field(default=None, max_length=40)
    body: str | None = Field(default=None, max_length=4096)
    template_id: str | None = Field(default=None, max_length=40)
    list_id: str | None = Field(default=None, max_length=40)
    scheduled_at: datetime | None = None
    name: str | None = Field(default=None, max_length=200)


class TemplateIn(CamelModel):
    name: str = Field(min_length=1, max_length=120)
    content_sid: str = Field(max_length=34)
    variables: dict[str, str] = Field(default_factory=dict, max_length=20)
    preview: str = Field(default="", max_length=4096)


class MessageOut(OutModel):
    id: str
    status: str


class CampaignOut(OutModel):
    id: str
    status: str


class TemplateOut(OutModel):
    id: str
    name: str
    content_sid: str


@bp.post("/send")
@api.validate(
    json=SendIn,
    resp=responses(HTTP_201=MessageOut, HTTP_202=CampaignOut, HTTP_409=None),
    tags=TAGS,
)
def send(json: SendIn):
    """A WhatsApp message to one customer (201): a template any time, free text only in
    the 24-hour window (409 ``window_closed`` otherwise); or a campaign to a list (202,
    templates only). 409 ``opted_out`` without WhatsApp consent."""
    if json.list_id is not None:
        if json.customer_id is not None or json.to is not None:
            raise validation_error({"listId": "a list send takes no customerId or to"})
        campaign = services.create_campaign(
            current_user,
            list_id=json.list_id,
            template_id=json.template_id,
            body=json.body,
            scheduled_at=json.scheduled_at,
            name=json.name,
        )
        return services.campaign_json(campaign), 202
    if not json.customer_id:
        raise validation_error({"customerId": "required (or listId for a list)"})
    message = services.send_to_customer(
        current_user,
        customer_id=json.customer_id,
        to=json.to,
        body=json.body,
        template_id=json.template_id,
    )
    return services.message_json(message), 201


@bp.get("/campaigns/<campaign_id>")
@api.validate(resp=responses(HTTP_200=CampaignOut, HTTP_404=None), tags=TAGS)
def campaign(campaign_id: str):
    """A WhatsApp campaign's progress (counts by outbox status)."""
    found = services.get_campaign(campaign_id, current_user)
    if found is None:
        raise not_found("campaign")
    return services.campaign_json(found)


@bp.get("/templates")
@api.validate(resp=responses(HTTP_200=None), tags=TAGS)
def templates():
    """The approved templates Decant knows (ContentSid and how variables are filled)."""
    rows = db.session.scalars(select(WhatsAppTemplate).order_by(WhatsAppTemplate.name)).all()
    return {"items": [services.template_json(t) for t in rows], "total": len(rows)}


@bp.post("/templates")
@role_required("admin", "manager")
@api.validate(json=TemplateIn, resp=responses(HTTP_201=TemplateOut, HTTP_409=None), tags=TAGS)
def create_template(json: TemplateIn):
    """Record a template approved in Twilio's Content API: ``contentSid`` (HX…),
    ``variables`` (``{"1": "{{ first_name }}"}``), ``preview`` (its text)."""
    template = services.create_template(current_user, json.model_dump())
    return services.template_json(template), 201
