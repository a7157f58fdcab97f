"""Render an email for one customer (or sample values) and run the pre-flight checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, select

from app.crm.models import Customer
from app.crm.scoping import get_visible_customer, scope_customers
from app.engagement import sunset
from app.errors import Invalid, NotFound
from app.extensions import db
from app.messaging import audiences, rendering
from app.messaging import templates as tpl
from app.messaging.models import Template
from app.preflight import checks


@dataclass
class Preview:
    subject: str
    html: str
    text: str
    customer: Customer | None


def email_template(public_id: str) -> Template:
    template = tpl.get_template(public_id, "email")
    if template is None:
        raise NotFound("No such email template")
    return template


def customer_for(user: Any, reference: str | None) -> Customer | None:
    """The customer to render for: the one named, or None for sample values."""
    if not reference:
        return None
    customer = get_visible_customer(reference, user)
    if customer is None:
        raise Invalid("Unknown customer", {"customerId": "no such customer, or not one of yours"})
    return customer


def customer_choices(user: Any, limit: int = 200) -> list[tuple[str, str]]:
    """Customers with an email address the user may see, for the page's picker."""
    stmt = cast("Select[Any]", select(Customer.public_id, Customer.name))
    stmt = scope_customers(
        stmt.where(Customer.email.is_not(None), Customer.archived.is_(False)),
        user,
    ).order_by(Customer.name, Customer.id)
    return [(pid, name) for pid, name in db.session.execute(stmt.limit(limit))]


def render_preview(subject: str, html: str, customer: Customer | None) -> Preview:
    if customer is not None:
        out = tpl.preview("email", customer, subject=subject, html=html)
        return Preview(out["subject"], out["html"], out["text"], customer)
    subject, html = tpl.check_email_parts(subject, html, set())
    context = rendering.sample_context(set())
    context["unsubscribe_url"] = "#unsubscribe"  # as tpl.preview does: not a link to check
    try:
        rendered = rendering.render_email(subject, html, context)
    except rendering.RenderLimit as exc:
        raise Invalid("Too big to render", {exc.field or "html": str(exc)}) from exc
    return Preview(rendered.subject, rendered.html, rendered.text, None)


def audience_for(user: Any, list_reference: str | None, campaign: Any = None) -> Select[Any] | None:
    """The list's customers; a campaign's, less the sunset ones it skips."""
    if not list_reference:
        return None
    members = audiences.resolve("list", list_reference, user, field="listId")
    return sunset.skip_sunset(campaign, members) if campaign is not None else members


def run(
    user: Any,
    *,
    subject: str | None,
    html: str | None,
    customer_ref: str | None = None,
    list_ref: str | None = None,
    check_links: bool = True,
    campaign: Any = None,
) -> tuple[Preview, checks.Report]:
    if not html:
        raise Invalid("Nothing to check", {"html": "an email body is required"})
    preview = render_preview(subject or "", html, customer_for(user, customer_ref))
    report = checks.run(
        subject_source=subject or "",
        html_source=html,
        rendered_subject=preview.subject,
        rendered_html=preview.html,
        rendered_text=preview.text,
        to=user.email,
        audience=audience_for(user, list_ref, campaign),
        check_links=check_links,
    )
    return preview, report


def run_for_template(user: Any, template_id: str, **options: Any) -> tuple[Preview, checks.Report]:
    template = email_template(template_id)
    if options.get("subject") is None:
        options["subject"] = template.subject
    if options.get("html") is None:
        options["html"] = template.html
    return run(user, **options)
