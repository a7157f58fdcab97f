"""/api/sales/marketing/templates: templates of every channel (thin routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask_login import current_user

from app.api.errors import not_found, validation_error
from app.api.limits import TEMPLATE_BODY, body_limit
from app.api.pagination import paginate
from app.api.spec import api, responses
from app.crm.scoping import get_visible_customer
from app.messaging import templates as tpl
from app.messaging.mjml import compile_mjml
from app.messaging.models import Template
from app.templates_admin import schemas as s

bp = Blueprint("templates_api", __name__, url_prefix="/api/sales/marketing")


def validate(tags: list[str], **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    decorator: Callable[[Callable[..., Any]], Callable[..., Any]] = api.validate(
        tags=tags, **kwargs
    )
    return decorator


def _template_or_404(template_id: str) -> Template:
    found = tpl.get_template(template_id)
    if found is None:
        raise not_found("template")
    return found


@bp.get("/templates")
@validate(["templates"], query=s.TemplateQuery, resp=responses(HTTP_200=s.TemplatePage))
def list_templates(query: s.TemplateQuery) -> Any:
    """Email or SMS templates (the defaults are seeded on first use). An email template is
    `format` html, or mjml: its `mjml` source is compiled to `html` when it is saved."""
    tpl.ensure_defaults()
    return paginate(tpl.templates_query(query.type), query.page, query.per_page, tpl.template_json)


@bp.post("/templates")
@body_limit(TEMPLATE_BODY)
@validate(["templates"], json=s.TemplateIn, resp=responses(HTTP_201=s.TemplateOut))
def create_template(json: s.TemplateIn) -> Any:
    """A template. Email: `subject` and `html`, or `format: "mjml"` and `mjml` (compiled
    on the server; a compile error is a 422 naming the line in `fields.mjml`)."""
    template = tpl.create_template(current_user, json.model_dump())
    return tpl.template_json(template), 201


@bp.post("/templates/preview")
@body_limit(TEMPLATE_BODY)
@validate(["templates"], json=s.PreviewIn, resp=responses(HTTP_200=s.PreviewOut))
def preview_template(json: s.PreviewIn) -> Any:
    """Render a saved template or a draft for one customer you can see; saves nothing."""
    customer = get_visible_customer(json.customer_id, current_user)
    if customer is None:
        raise validation_error({"customerId": "unknown customer"})
    subject, html, body = json.subject, json.html, json.body
    if json.mjml:
        html = compile_mjml(json.mjml)
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
def get_template(template_id: str) -> Any:
    return tpl.template_json(_template_or_404(template_id))


@bp.patch("/templates/<template_id>")
@body_limit(TEMPLATE_BODY)
@validate(
    ["templates"],
    json=s.TemplatePatch,
    resp=responses(HTTP_200=s.TemplateOut, HTTP_404=None),
)
def patch_template(template_id: str, json: s.TemplatePatch) -> Any:
    """Change a template (not its type). Reps change only their own: shared ones are 403."""
    template = _template_or_404(template_id)
    changes = json.model_dump(exclude_unset=True)
    return tpl.template_json(tpl.update_template(current_user, template, changes))


@bp.delete("/templates/<template_id>")
@validate(["templates"], resp=responses(HTTP_204=None, HTTP_404=None))
def delete_template(template_id: str) -> Any:
    """Delete a template. Reps delete only their own: shared ones are 403."""
    tpl.delete_template(current_user, _template_or_404(template_id))
    return "", 204
