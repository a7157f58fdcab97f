"""/api/sales/marketing: email send, messages and templates (thin routes); campaigns are
the core's (:mod:`app.campaigns`)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from app.api.errors import not_found, validation_error
from app.api.limits import TEMPLATE_BODY, body_limit
from app.api.pagination import paginate
from app.api.spec import api, responses
from app.campaigns import service as campaigns
from app.campaigns.registry import Content
from app.campaigns.reports import campaign_json
from app.campaigns.schemas import CampaignOut
from app.campaigns.service import Draft
from app.crm.scoping import get_visible_customer
from app.messaging import templates as tpl
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


# --- templates -----------------------------------------------------------------------------


def _template_or_404(template_id: str):
    found = tpl.get_template(template_id)
    if found is None:
        raise not_found("template")
    return found


@bp.get("/templates")
@validate(["templates"], query=s.TemplateQuery, resp=responses(HTTP_200=s.TemplatePage))
def list_templates(query: s.TemplateQuery):
    """Email or SMS templates (the defaults are seeded on first use)."""
    tpl.ensure_defaults()
    return paginate(tpl.templates_query(query.type), query.page, query.per_page, tpl.template_json)


@bp.post("/templates")
@body_limit(TEMPLATE_BODY)
@validate(["templates"], json=s.TemplateIn, resp=responses(HTTP_201=s.TemplateOut))
def create_template(json: s.TemplateIn):
    template = tpl.create_template(current_user, json.model_dump())
    return tpl.template_json(template), 201


@bp.post("/templates/preview")
@body_limit(TEMPLATE_BODY)
@validate(["templates"], json=s.PreviewIn, resp=responses(HTTP_200=s.PreviewOut))
def preview_template(json: s.PreviewIn):
    """Render a saved template or a draft for one customer you can see; saves nothing."""
    customer = get_visible_customer(json.customer_id, current_user)
    if customer is None:
        raise validation_error({"customerId": "unknown customer"})
    subject, html, body = json.subject, json.html, json.body
    if json.template_id:
        template = tpl.get_template(json.template_id, json.type)
        if template is None:
            raise validation_error({"templateId": "unknown template"})
        subject, html, body = (
            subject or template.subject,
            html or template.html,
            body or template.body,
        )
    return tpl.preview(
        json.type, customer, subject=subject, html=html, body=body, extra=json.personalization
    )


@bp.get("/templates/<template_id>")
@validate(["templates"], resp=responses(HTTP_200=s.TemplateOut, HTTP_404=None))
def get_template(template_id: str):
    return tpl.template_json(_template_or_404(template_id))


@bp.patch("/templates/<template_id>")
@body_limit(TEMPLATE_BODY)
@validate(
    ["templates"],
    json=s.TemplatePatch,
    resp=responses(HTTP_200=s.TemplateOut, HTTP_404=None),
)
def patch_template(template_id: str, json: s.TemplatePatch):
    """Change a template (not its type). Reps change only their own: shared ones are 403."""
    template = _template_or_404(template_id)
    changes = json.model_dump(exclude_unset=True)
    return tpl.template_json(tpl.update_template(current_user, template, changes))


@bp.delete("/templates/<template_id>")
@validate(["templates"], resp=responses(HTTP_204=None, HTTP_404=None))
def delete_template(template_id: str):
    """Delete a template. Reps delete only their own: shared ones are 403."""
    tpl.delete_template(current_user, _template_or_404(template_id))
    return "", 204


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
