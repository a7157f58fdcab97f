"""The email side of the delivery engine: provider, batches, rendering, consent, activities.

Registered as the ``email`` :class:`~app.messaging.delivery.DeliveryChannel`. Single sends
keep the body rendered at request time; campaign rows are rendered at send time from the
campaign, one batch of customers loaded in one query.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, case, func, insert, literal, select

from app.crm.models import Activity, CommunicationPreference, Customer
from app.dev import capture
from app.extensions import db
from app.messaging import consent, delivery, rendering
from app.messaging.models import Campaign, Suppression
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from providers.email import MESSAGE_ID_KEY, OutgoingEmail, SendResult, build_email_provider
from providers.errors import AuthenticationError, PermanentError, ProviderError

DEFAULT_RATE_LIMIT = "600/60"
DEFAULT_BATCH_SIZE = 500
_console_rows: contextvars.ContextVar[dict[str, EmailMessage] | None] = contextvars.ContextVar(
    "email_console_rows", default=None
)


# --- provider ------------------------------------------------------------------------


def provider():
    """The configured adapter, built once per app (SMTP keeps its connection)."""
    app = current_app._get_current_object()
    cached = app.extensions.get("decant_email_provider")
    if cached is None:
        name = app.config.get("EMAIL_PROVIDER") or "console"
        settings = dict(app.config)
        settings["console_sink"] = _console_sink
        cached = build_email_provider(name, settings)
        app.extensions["decant_email_provider"] = cached
    return cached


def _console_sink(message: OutgoingEmail) -> None:
    row = (_console_rows.get() or {}).get(message.metadata.get(MESSAGE_ID_KEY, ""))
    capture(
        "email",
        message.to,
        message.text,
        subject=message.subject,
        html=message.html,
        customer_id=row.customer_id if row is not None else None,
        user_id=row.user_id if row is not None else None,
        meta={"headers": dict(message.headers), **dict(message.metadata)},
    )


def batch_size(_provider: Any = None) -> int:
    size = int(current_app.config.get("EMAIL_BATCH_SIZE") or DEFAULT_BATCH_SIZE)
    return max(1, min(size, provider().max_batch_size))


def rate_limit(p: Any) -> delivery.RateLimit:
    raw = str(current_app.config.get("EMAIL_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    limit, _, window = raw.partition("/")
    return delivery.RateLimit(
        key=f"email:{getattr(p, 'name', 'email')}",
        limit=max(1, int(limit)),
        window=float(window or 1),
    )


# --- materialize -----------------------------------------------------------------------


def _public_id_sql():
    if db.session.get_bind().dialect.name == "postgresql":
        random = func.substr(
            func.replace(func.cast(func.gen_random_uuid(), db.Text), "-", ""), 1, 18
        )
    else:
        random = func.lower(func.hex(func.randomblob(9)))
    return literal("eml_") + random


def materialize(campaign: Campaign, customer_ids: Select[Any]) -> int:
    """One INSERT ... SELECT: a row per audience customer with an address."""
    now = utcnow()
    source = select(
        _public_id_sql(),
        literal(campaign.id),
        Customer.id,
        literal(campaign.created_by_id),
        literal(campaign.template_id),
        func.lower(Customer.email),
        case((consent.contactable_clause("email"), "queued"), else_="suppressed"),
        case((consent.contactable_clause("email"), None), else_="suppressed"),
        literal(0),
        literal(0),
        literal(0),
        literal(campaign.scheduled_at),
        literal(now),
    ).where(Customer.id.in_(customer_ids.scalar_subquery()), Customer.email.is_not(None))
    columns = [
        "public_id",
        "campaign_id",
        "customer_id",
        "user_id",
        "template_id",
        "to_address",
        "status",
        "error_code",
        "attempts",
        "open_count",
        "click_count",
        "scheduled_at",
        "created_at",
    ]
    db.session.execute(insert(EmailMessage).from_select(columns, source))
    return db.session.scalar(select(func.count()).where(EmailMessage.campaign_id == campaign.id))


# --- consent at send time ----------------------------------------------------------------


def refusals(rows: Sequence[EmailMessage]) -> dict[int, str]:
    addresses = {r.to_address.lower() for r in rows}
    suppressed = set(
        db.session.scalars(
            select(Suppression.address).where(
                Suppression.channel == "email", Suppression.address.in_(addresses)
            )
        )
    )
    customer_ids = {r.customer_id for r in rows if r.customer_id is not None}
    opted_out = set(
        db.session.scalars(
            select(CommunicationPreference.customer_id).where(
                CommunicationPreference.customer_id.in_(customer_ids),
                CommunicationPreference.email_status == "opted_out",
            )
        )
    )
    out: dict[int, str] = {}
    for row in rows:
        if row.to_address.lower() in suppressed:
            out[row.id] = f"{row.to_address} is on the email suppression list"
        elif row.customer_id in opted_out:
            out[row.id] = "the customer opted out of email"
    return out


# --- building messages -------------------------------------------------------------------


def render_for(
    message: EmailMessage, subject: str, html: str, context: dict[str, Any]
) -> rendering.RenderedEmail:
    """Render tokens, inline CSS, add footer and pixel, rewrite links, derive the text."""
    context = {**context, "unsubscribe_url": tracking.unsubscribe_url(message.id)}
    out_subject = " ".join(rendering.render(subject, context, html=False).split())
    body = rendering.render(html, context, html=True)
    if "<style" in body.lower():
        body = rendering.inline_css(body)
    body = tracking.add_footer_and_pixel(body, message.id, "unsubscribe_url" in html)
    body = tracking.rewrite_links(body, message.id)
    return rendering.RenderedEmail(out_subject, body, rendering.html_to_text(body))


def outgoing(message: EmailMessage, rendered: rendering.RenderedEmail, reply_to: str | None):
    name, address = parseaddr(current_app.config.get("FROM_EMAIL") or "")
    headers = {
        "List-Unsubscribe": _list_unsubscribe(message.id),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return OutgoingEmail(
        to=message.to_address,
        from_email=address or "marketing@example.com",
        from_name=name or None,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers=headers,
        reply_to=reply_to,
        idempotency_key=message.public_id,
        metadata={MESSAGE_ID_KEY: message.public_id},
    )


def _list_unsubscribe(message_id: int) -> str:
    value = f"<{tracking.unsubscribe_url(message_id)}>"
    mailto = current_app.config.get("EMAIL_UNSUBSCRIBE_MAILTO")
    if mailto:
        value += f", <mailto:{mailto}?subject=unsubscribe>"
    return value


def _campaign_parts(rows: Sequence[EmailMessage]) -> dict[int, Campaign]:
    ids = {r.campaign_id for r in rows if r.campaign_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}


def send(p: Any, rows: Sequence[EmailMessage]) -> list[Any]:
    """Render (campaign rows), hand the batch to the provider, one outcome per row."""
    campaigns = _campaign_parts(rows)
    customer_ids = {r.customer_id for r in rows if r.campaign_id and r.customer_id}
    customers = {
        c.id: c for c in db.session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    }
    messages: list[OutgoingEmail | None] = []
    problems: dict[int, ProviderError] = {}
    for index, row in enumerate(rows):
        try:
            if row.campaign_id is not None:
                campaign = campaigns[row.campaign_id]
                customer = customers.get(row.customer_id)
                context = rendering.customer_context(customer) if customer else {}
                rendered = render_for(row, campaign.subject or "", campaign.html or "", context)
                row._rendered = rendered  # for the activity, not stored on the row
            else:
                rendered = rendering.RenderedEmail(
                    row.subject or "", row.html or "", row.text or ""
                )
            messages.append(outgoing(row, rendered, None))
        except Exception as exc:  # a template the sandbox refuses now, a bad header...
            problems[index] = PermanentError(f"cannot build message: {exc}", code="render")
            messages.append(None)
    ready = [m for m in messages if m is not None]
    token = _console_rows.set({r.public_id: r for r in rows})
    try:
        results = p.send_batch(ready) if ready else []
    except AuthenticationError as exc:
        results = [exc] * len(ready)
    finally:
        _console_rows.reset(token)
    outcomes: list[Any] = []
    it = iter(results)
    for index in range(len(rows)):
        if index in problems:
            outcomes.append(problems[index])
            continue
        result = next(it)
        outcomes.append(result.provider_message_id if isinstance(result, SendResult) else result)
    return outcomes


# --- after the send ------------------------------------------------------------------------


def after_send(rows: Sequence[EmailMessage]) -> None:
    """Timeline entries for the rows that went, added per batch (one multi-row INSERT)."""
    sent = [r for r in rows if r.status == "sent" and r.customer_id and r.activity_id is None]
    if not sent:
        return
    campaigns = _campaign_parts(sent)
    activities = []
    for row in sent:
        rendered = getattr(row, "_rendered", None)
        campaign = campaigns.get(row.campaign_id) if row.campaign_id else None
        activities.append(
            Activity(
                customer_id=row.customer_id,
                type="Email Campaign" if campaign else "Email",
                subject=(rendered.subject if rendered else row.subject),
                body=(rendered.text if rendered else row.text),
                direction="sent",
                user_id=campaign.created_by_id if campaign else row.user_id,
                occurred_at=row.sent_at or utcnow(),
            )
        )
    db.session.add_all(activities)
    db.session.flush()
    for row, activity in zip(sent, activities, strict=True):
        row.activity_id = activity.id


def register(app: Flask) -> None:
    delivery.register(
        app,
        delivery.DeliveryChannel(
            name="email",
            model=EmailMessage,
            provider=provider,
            batch_size=batch_size,
            rate_limit=rate_limit,
            send=send,
            materialize=materialize,
            refusals=refusals,
            after_send=after_send,
        ),
    )
