"""The one-click re-permission campaign: a draft email to everyone sunset (a smart list
of them), with a built-in "Do you still want to hear from us?" message whose "Yes, keep
me" link is an ordinary tracked link: a person's click on it is a human touch, which
rescores them at once and so brings them out of sunset. Those who do not answer stay
sunset (and the next regular campaign skips them again)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from app.campaigns import service
from app.campaigns.registry import Content
from app.engagement import report
from app.errors import Invalid
from app.extensions import db
from app.messaging import audiences
from app.messaging import templates as tpl
from app.messaging.models import Campaign, Template
from app.models_base import utcnow

TEMPLATE_NAME = "Do you still want to hear from us?"
KEEP_ME_PATH = "/stay-subscribed"
SUNSET_CRITERIA = {"type": "engagement_state", "state": "sunset"}


def keep_me_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + KEEP_ME_PATH


def template_html() -> str:
    return (
        "<p>Hello {{ customer_name }},</p>"
        "<p>We have sent you a few emails lately and have not heard back. Do you still "
        "want to hear from us about new wines, allocations and tastings?</p>"
        f'<p><a href="{keep_me_url()}" '
        'style="display:inline-block;padding:10px 18px;background:#7b1e3a;color:#ffffff;'
        'text-decoration:none;border-radius:4px">Yes, keep me</a></p>'
        "<p>If you would rather not, there is nothing to do: we will stop emailing you.</p>"
    )


def ensure_template() -> Template:
    """The built-in re-permission template (created on first use, with this server's
    keep-me address). The stock templates are seeded first: they are seeded only while
    no built-in template exists."""
    tpl.ensure_defaults()
    found = db.session.scalar(
        select(Template).where(
            Template.type == "email",
            Template.name == TEMPLATE_NAME,
            Template.is_default.is_(True),
        )
    )
    if found is None:
        found = Template(
            type="email",
            name=TEMPLATE_NAME,
            subject="Do you still want to hear from us?",
            html=template_html(),
            is_default=True,
        )
        db.session.add(found)
        db.session.commit()
    return found


def create_campaign(user: Any) -> Campaign:
    """A draft email campaign to the sunset customers ``user`` may see, sunset included;
    Invalid when nobody is sunset."""
    if report.count(user) == 0:
        raise Invalid("nobody is sunset", {"audience": "nobody is in the sunset state"})
    day = utcnow().date().isoformat()
    try:
        list_ref = audiences.create_smart("list", f"Sunset {day}", SUNSET_CRITERIA, user)
    except (LookupError, ValueError) as exc:
        raise Invalid("no list", {"audience": str(exc) or "lists are not enabled"}) from exc
    template = ensure_template()
    return service.create(
        user,
        service.Draft(
            channel="email",
            list_id=list_ref,
            name=f"Re-permission {day}",
            content=Content(template_id=template.public_id),
            include_sunset=True,
        ),
    )
