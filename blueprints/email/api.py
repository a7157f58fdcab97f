"""/api/sales/marketing: email send and messages (thin routes); campaigns and templates are
the core's (:mod:`app.campaigns`, :mod:`app.templates_admin`)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from app.api.errors import not_found, validation_error
from app.api.limits import TEMPLATE_BODY, body_limit
from app.api.spec import api, responses
from app.campaigns import service as campaigns
from app.campaigns.registry import Content
from app.campaigns.reports import campaign_json
from app.campaigns.schemas import CampaignOut
from app.campaigns.service import Draft
from app.messaging.readback import messages_query
from app.messaging.readback import page as readback_page
from blueprints.email import readback as rb
from blueprints.email import schemas as s
from blueprints.email import services
from blueprints.email.models import EmailMessage

bp = Blueprint("email_api", __name__, url_prefix="/api/sales/marketing")


def validate(tags: list[str], **kwargs):
    return api.validate(tags=tags, **kwargs)


# --- sending -------------------------------------------------------------------------------


@bp.post("/email/send")
@body_limit(TEMPLATE_BODY)
@validate(["email"], json=s.SendIn, resp=responses(HTTP_201=s.MessageOut, HTTP_202=CampaignOut))
def send(json: s.SendIn):
    """One email to a customer (201 with the message) or a campaign to a list (202)."""
    if json.list_id:
        campaign = campaigns.create_and_send(
            current_user,
            Draft(
                channel="email",
                list_id=json.list_id,
                name=json.name,
                content=Content(subject=json.subject, html=json.html, template_id=json.template_id),
                scheduled_at=json.scheduled_at,
            ),
        )
        return campaign_json(campaign), 202
    if not json.customer_id:
        raise validation_error({"customerId": "required (or listId for a campaign)"})
    message = services.send_single(
        current_user,
        to=json.to,
        customer_id=json.customer_id or "",
        template_id=json.template_id,
        subject=json.subject,
        html=json.html,
        personalization=json.personalization,
        scheduled_at=json.scheduled_at,
    )
    return services.message_json(message), 201


@bp.get("/email/messages/<message_id>")
@validate(["email"], resp=responses(HTTP_200=s.MessageDetailOut, HTTP_404=None))
def get_message(message_id: str):
    """One email (a single send or a campaign recipient's): status, error, engagement."""
    message = services.get_message(message_id, current_user)
    if message is None:
        raise not_found("message")
    return services.message_detail_json(message)


# --- messages ------------------------------------------------------------------------------


@bp.get("/email/messages")
@validate(["email"], query=rb.MessageQuery, resp=responses(HTTP_200=rb.MessageRowPage))
def list_messages(query: rb.MessageQuery):
    """Email messages with their status and engagement (opens, clicks, delivery, bounce,
    complaint, unsubscribe), newest first; reps see their territory's and their own.

    With `updatedSince` or `cursor`: what changed since (a new open, a bounce...), in
    change order, with `nextCursor`."""
    stmt = messages_query(EmailMessage, current_user, query.customer_id)
    if query.status:
        stmt = stmt.where(EmailMessage.status == query.status)
    return readback_page(
        stmt, query, kind="email-messages", model=EmailMessage, serialize_page=rb.messages_json
    )
