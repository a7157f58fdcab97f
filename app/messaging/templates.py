"""Template services for every channel: CRUD, save-time checks, preview, default seeding.

Email templates hold a subject and sanitised HTML; SMS templates a body. Every source is
checked with :func:`app.messaging.rendering.check_template` on save (unknown tokens,
reaches for Python internals and syntax errors are a 422 naming the field).

Every template is visible to the whole team. A rep changes or deletes only the templates
they created; the others (the defaults, managers' and other reps' templates) are shared,
and only managers and admins manage those (:func:`can_manage`, 403 otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import TYPE_CHECKING, Any

from flask import current_app
from jinja2 import TemplateSyntaxError
from sqlalchemy import Select, func, select, text

from app.crm.models import Customer
from app.errors import Forbidden, Invalid, invalid
from app.extensions import db
from app.messaging import email_html, footer, merge_tags, rendering
from app.messaging.mjml import compile_mjml
from app.messaging.models import TEMPLATE_TYPES, Template

if TYPE_CHECKING:
    from app.auth.models import User

#: Tokens an email may hold that are filled once, when a recurring campaign's occurrence
#: becomes a campaign (app/recurring/featured.py), not per recipient; elsewhere they
#: render empty.
CAMPAIGN_TOKENS = frozenset({"featured_wines"})

_SIGNOFF = "<p>Cheers,<br>{{ rep_name }}</p>"

#: (name, subject, html, sms body) of the templates every installation starts with.
DEFAULT_TEMPLATES: tuple[tuple[str, str, str, str], ...] = (
    (
        "Weekly Specials",
        "This week's specials for {{ customer_name }}",
        "<h2>This week's specials</h2><p>Hi {{ customer_name }},</p>"
        "<p>Here are this week's best buys for {{ territory }}: limited allocations, "
        'first come first served.</p><p><a href="https://example.com/specials">'
        "See the specials</a></p>" + _SIGNOFF,
        "Hi {{ customer_name }}, this week's specials are in. Reply to reserve. - {{ rep_name }}",
    ),
    (
        "New Product Announcement",
        "New arrivals for {{ customer_name }}",
        "<h2>Just landed</h2><p>Hi {{ customer_name }},</p><p>We have new wines in the "
        'book we think your list will love.</p><p><a href="https://example.com/new">'
        "Discover the new arrivals</a></p>" + _SIGNOFF,
        "Hi {{ customer_name }}, new wines just landed. Want samples? - {{ rep_name }}",
    ),
    (
        "Customer Check-in",
        "Checking in, {{ customer_name }}",
        "<p>Hi {{ customer_name }},</p><p>It has been a while since your last order "
        "({{ last_order_date|default('some time ago') }}). Anything we can help with "
        "for your list?</p>" + _SIGNOFF,
        "Hi {{ customer_name }}, just checking in. Need anything for your list? - {{ rep_name }}",
    ),
    (
        "Tasting Invitation",
        "You're invited: trade tasting in {{ territory }}",
        "<h2>Trade tasting</h2><p>Hi {{ customer_name }},</p><p>Join us for a "
        "walk-around tasting of our new releases in {{ territory }}.</p>"
        '<p><a href="https://example.com/tasting">Save your seat</a></p>' + _SIGNOFF,
        "Hi {{ customer_name }}, you're invited to our trade tasting in {{ territory }}. "
        "Reply YES to save a seat.",
    ),
    (
        "Thank You for Your Order",
        "Thank you for your order, {{ customer_name }}",
        "<p>Hi {{ customer_name }},</p><p>Thank you for your order. It is on its way; "
        "reply to this email if anything is missing.</p>" + _SIGNOFF,
        "Thanks for your order, {{ customer_name }}! It's on its way. - {{ rep_name }}",
    ),
)


def custom_field_keys(names: Iterable[str]) -> set[str]:
    """Which of ``names`` are custom field keys some customer has: the tokens a template
    may use besides the core ones. One EXISTS per name, which stops at the first customer
    having it; a template names a handful of tokens, while listing every key of every
    customer was a scan of the whole table on each send."""
    if db.session.get_bind().dialect.name == "postgresql":
        sql = (
            "SELECT EXISTS (SELECT 1 FROM customer WHERE json_typeof(custom_fields) = 'object'"
            " AND custom_fields -> :key IS NOT NULL)"
        )
    else:
        sql = (
            "SELECT EXISTS (SELECT 1 FROM customer WHERE json_type(custom_fields) = 'object'"
            " AND json_type(custom_fields, '$.\"' || :key || '\"') IS NOT NULL)"
        )
    wanted = {n for n in names if isinstance(n, str) and n.isidentifier()}
    return {key for key in sorted(wanted) if db.session.scalar(text(sql), {"key": key})}


def token_names(*sources: str | None, html: bool) -> set[str]:
    """The non-core tokens these templates use (a syntax error is left for the check)."""
    names: set[str] = set()
    for source in sources:
        if source:
            try:
                names |= rendering.undeclared_tokens(source, html=html)
            except TemplateSyntaxError:
                continue
    return names - set(rendering.CORE_TOKENS)


def _allowed_keys(*sources: str | None, html: bool, extra: Iterable[str] = ()) -> set[str]:
    return custom_field_keys(token_names(*sources, html=html)) | set(extra)


def check_email_parts(
    subject: str | None, html: str | None, extra_keys: Set[str] = frozenset()
) -> tuple[str, str]:
    """Validate and sanitise an email's subject and HTML; 422 naming the field."""
    subject, clean, _report = prepare_email_parts(subject, html, extra_keys)
    return subject, clean


def prepare_email_parts(
    subject: str | None, html: str | None, extra_keys: Set[str] = frozenset()
) -> tuple[str, str, dict[str, Any]]:
    """:func:`check_email_parts`, and what saving changed: ``sanitised.removed`` (what
    could run or exfiltrate) and ``mergeTags`` (Mailchimp tags translated, or unknown)."""
    problems: dict[str, str] = {}
    if not subject:
        problems["subject"] = "a subject is required"
    if not html:
        problems["html"] = "an HTML body is required"
    if problems:
        raise invalid(problems)
    assert subject is not None and html is not None
    subject, subject_tags = merge_tags.translate(subject, custom_field_keys)
    html, html_tags = merge_tags.translate(html, custom_field_keys)
    clean, removed = email_html.sanitise(html)
    keys = custom_field_keys(
        token_names(subject, html=False) | token_names(clean, html=True)
    ) | set(extra_keys)
    keys |= footer.SEND_TOKENS | CAMPAIGN_TOKENS
    _check(subject, "subject", keys, html=False)
    _check(clean, "html", keys, html=True)
    tags = merge_tags.MergeReport(
        subject_tags.translated + html_tags.translated, subject_tags.unknown + html_tags.unknown
    )
    report = {"sanitised": {"removed": [r.as_json() for r in removed]}, "mergeTags": tags.as_json()}
    return subject, clean, report


def check_sms_body(body: str | None, field: str = "body") -> None:
    """Validate an SMS body that will be rendered as a template; 422 naming ``field``."""
    try:
        rendering.check_template(body, "body", _allowed_keys(body, html=False), html=False)
    except rendering.TemplateProblem as exc:
        raise invalid({field: exc.message}) from exc


def _check(source: str | None, field: str, keys: set[str], *, html: bool) -> None:
    try:
        rendering.check_template(source, field, keys, html=html)
    except rendering.TemplateProblem as exc:
        raise invalid({exc.field: exc.message}) from exc


#: Roles that manage every template, shared ones included.
MANAGING_ROLES = ("admin", "manager")


def can_manage(user: User, template: Template) -> bool:
    """Whether ``user`` may change or delete ``template``: managers and admins any, a rep
    only a template of their own (never a default)."""
    if getattr(user, "role", None) in MANAGING_ROLES:
        return True
    own = template.created_by_id is not None and template.created_by_id == getattr(user, "id", None)
    return own and not template.is_default


def require_manage(user: User, template: Template) -> None:
    """403 unless ``user`` may change ``template`` (checked before anything is written)."""
    if not can_manage(user, template):
        raise Forbidden("Shared templates are managed by managers and admins; reps edit their own")


def save_report_lines(template: Template) -> list[str]:
    """What saving removed and which merge tags it translated or did not know, as
    sentences for the page (empty when nothing changed)."""
    report = getattr(template, "save_report", None) or {}
    removed = report.get("sanitised", {}).get("removed", [])
    tags = report.get("mergeTags", {})
    lines = []
    if removed:
        items = ", ".join(f"{r['what']} ×{r['count']}" for r in removed)
        lines.append(f"Removed what could run or track: {items}.")
    if tags.get("translated"):
        items = ", ".join(f"{t['tag']} → {t['token']}" for t in tags["translated"])
        lines.append(f"Mailchimp merge tags translated: {items}.")
    if tags.get("unknown"):
        items = ", ".join(t["tag"] for t in tags["unknown"])
        lines.append(f"Merge tags Decant has no value for (left as written): {items}.")
    return lines


def template_json(t: Template) -> dict[str, Any]:
    """A template; right after a save, also what saving removed and translated."""
    report = getattr(t, "save_report", None) or {}
    return {
        **report,
        "id": t.public_id,
        "type": t.type,
        "name": t.name,
        "subject": t.subject,
        "html": t.html,
        "body": t.body,
        "format": t.format or "html",
        "mjml": t.mjml_source,
        "isDefault": t.is_default,
        "createdAt": t.created_at.isoformat() if t.created_at else None,
        "updatedAt": t.updated_at.isoformat() if t.updated_at else None,
    }


def templates_query(type_: str | None = None) -> Select[Any]:
    stmt = select(Template).order_by(Template.type, Template.name, Template.id)
    return stmt.where(Template.type == type_) if type_ else stmt


def get_template(public_id: str | None, type_: str | None = None) -> Template | None:
    if not public_id:
        return None
    stmt = select(Template).where(Template.public_id == public_id)
    if type_:
        stmt = stmt.where(Template.type == type_)
    return db.session.scalar(stmt)


def _apply_source(template: Template, data: dict[str, Any]) -> dict[str, Any]:
    """Set how ``template`` is written from ``data``: MJML (``mjml``, compiled here to
    the ``html`` the save path then checks like any other) or HTML (an ``html`` without
    ``mjml`` makes an MJML template plain HTML again: the source no longer matches)."""
    wanted = data.get("format") or (
        "mjml"
        if data.get("mjml") is not None
        else "html"
        if data.get("html") is not None
        else template.format or "html"
    )
    if wanted == "html":
        if data.get("mjml") is not None:
            raise Invalid("MJML given for HTML", {"mjml": 'only with format "mjml"'})
        template.format, template.mjml_source = "html", None
        return data
    if template.type != "email":
        raise Invalid("MJML is for email", {"format": "MJML is for email templates"})
    if data.get("html") is not None and data.get("mjml") is not None:
        raise Invalid("Give HTML or MJML", {"html": "give either html or mjml, not both"})
    source = data.get("mjml")
    if source is None and template.format == "mjml":
        if "format" not in data:
            return data  # a name or subject changed: the compiled HTML stands
        source = template.mjml_source
    html = compile_mjml(source)
    template.format, template.mjml_source = "mjml", source
    return {**data, "html": html}


def _apply(template: Template, data: dict[str, Any]) -> None:
    data = _apply_source(template, data)
    for key in ("name", "subject", "html", "body"):
        if key in data:
            setattr(template, key, data[key])
    if not (template.name or "").strip():
        raise invalid({"name": "a name is required"})
    if template.type == "email":
        template.subject, template.html, report = prepare_email_parts(
            template.subject, template.html
        )
        setattr(template, "save_report", report)  # noqa: B010 - not a column: this save's answer
        template.body = None
    else:
        if not template.body:
            raise invalid({"body": "a body is required"})
        _check(template.body, "body", _allowed_keys(template.body, html=False), html=False)
        template.subject = template.html = None


def create_template(user: User, data: dict[str, Any]) -> Template:
    type_ = data.get("type")
    if type_ not in TEMPLATE_TYPES:
        raise invalid({"type": f"one of {', '.join(TEMPLATE_TYPES)}"})
    template = Template(type=type_, created_by_id=getattr(user, "id", None))
    _apply(template, data)
    db.session.add(template)
    db.session.commit()
    return template


def update_template(user: User, template: Template, data: dict[str, Any]) -> Template:
    """Change fields; checks run on the result, and nothing is written on a 403 or 422.
    The type is fixed once created (an SMS body is no email), so ``data`` never sets it."""
    require_manage(user, template)
    try:
        _apply(template, data)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return template


def delete_template(user: User, template: Template) -> None:
    require_manage(user, template)
    db.session.delete(template)
    db.session.commit()


def preview(
    type_: str,
    customer: Customer,
    *,
    subject: str | None = None,
    html: str | None = None,
    body: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template rendered for one customer (checks first; nothing is saved)."""
    context = rendering.customer_context(customer, extra)
    context.setdefault("unsubscribe_url", "#unsubscribe")
    sample = footer.send_values(
        email=customer.email or "",
        preferences_url="#preferences",
        postal_address=current_app.config.get("EMAIL_POSTAL_ADDRESS"),
    )
    context = {**sample, **context}
    if type_ == "email":
        subject, html = check_email_parts(subject, html, set(extra or {}))
        try:
            out = rendering.render_email(subject, html, context)
        except rendering.RenderLimit as exc:  # the customer's values made it too big
            raise invalid({exc.field or "html": str(exc)}) from exc
        return {"subject": out.subject, "html": out.html, "text": out.text}
    if not body:
        raise invalid({"body": "a body is required"})
    _check(body, "body", _allowed_keys(body, html=False, extra=extra or {}), html=False)
    try:
        return {"body": rendering.render(body, context, html=False)}
    except rendering.RenderLimit as exc:
        raise invalid({"body": str(exc)}) from exc


def seed_defaults() -> int:
    """Add the default email and SMS templates that are missing (idempotent); how many."""
    have = set(
        db.session.execute(
            select(Template.type, Template.name).where(Template.is_default.is_(True))
        ).all()
    )
    added = 0
    for name, subject, html, body in DEFAULT_TEMPLATES:
        if ("email", name) not in have:
            db.session.add(
                Template(type="email", name=name, subject=subject, html=html, is_default=True)
            )
            added += 1
        if ("sms", name) not in have:
            db.session.add(Template(type="sms", name=name, body=body, is_default=True))
            added += 1
    if added:
        db.session.commit()
    return added


def ensure_defaults() -> None:
    """Seed on first use: cheap when any default exists already."""
    exists = db.session.scalar(select(func.count()).where(Template.is_default.is_(True)))
    if not exists:
        seed_defaults()
