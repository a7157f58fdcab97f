"""The WhatsApp channel's side of the shared delivery engine: provider, batches, consent,
the window rule at send time, and the rows of a campaign."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, case, func, insert, literal, select

from app.crm.models import Customer
from app.crm.services import log_activity
from app.extensions import db
from app.messaging import consent
from app.messaging.delivery import DeliveryChannel, Outcome, RateLimit, register
from app.messaging.models import Campaign
from app.messaging.outbox import OutboxRow
from app.models_base import utcnow
from app.signals import message_sent
from decant_whatsapp import provider as providers
from decant_whatsapp.models import (
    WhatsAppCampaign,
    WhatsAppConversation,
    WhatsAppMessage,
    WhatsAppTemplate,
)
from decant_whatsapp.services import ACTIVITY, CHANNEL, conversation_for, fill, open_windows
from providers.errors import PermanentError, TransientError

STATUS_PATH = "/api/sales/marketing/webhooks/whatsapp/status"


def provider() -> providers.WhatsAppProvider:
    app = current_app._get_current_object()
    cached = app.extensions.get("decant_whatsapp_provider")
    if cached is None:
        cached = providers.build(app.config)
        app.extensions["decant_whatsapp_provider"] = cached
    return cached


def rate_limit(_provider: Any) -> RateLimit:
    sender = current_app.config.get("WHATSAPP_FROM") or "console"
    return RateLimit(
        key=f"whatsapp:{sender}", limit=current_app.config["WHATSAPP_RATE_LIMIT"], window=1.0
    )


def batch_size(_provider: Any) -> int:
    return max(1, int(current_app.config["WHATSAPP_BATCH_SIZE"]))


def _fill_campaign_row(row: OutboxRow, templates: dict[int, WhatsAppTemplate | None]) -> None:
    """A campaign row's template variables, rendered for its customer at send time."""
    if row.campaign_id not in templates:
        templates[row.campaign_id] = db.session.scalar(
            select(WhatsAppTemplate)
            .join(WhatsAppCampaign, WhatsAppCampaign.template_id == WhatsAppTemplate.id)
            .where(WhatsAppCampaign.campaign_id == row.campaign_id)
        )
    template = templates[row.campaign_id]
    if template is None:
        return
    customer = db.session.get(Customer, row.customer_id) if row.customer_id else None
    row.content_sid = template.content_sid
    row.content_variables, row.body = fill(template, customer)


def send(whatsapp: providers.WhatsAppProvider, rows: Sequence[OutboxRow]) -> list[Outcome]:
    """One provider call per row; after a transient error the rest wait for the retry."""
    outcomes: list[Outcome] = []
    templates: dict[int, WhatsAppTemplate | None] = {}
    callback = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + STATUS_PATH
    for index, row in enumerate(rows):
        if row.campaign_id and row.content_variables is None:
            _fill_campaign_row(row, templates)
        if row.campaign_id and not row.content_sid:
            outcomes.append(PermanentError("the campaign's template is gone", provider=CHANNEL))
            continue
        message = providers.OutgoingWhatsApp(
            to=row.to_address,
            body=None if row.content_sid else row.body,
            content_sid=row.content_sid,
            content_variables=dict(row.content_variables or {}),
            status_callback=callback if whatsapp.name != "console" else None,
        )
        try:
            result = whatsapp.send(message)
        except TransientError as exc:
            outcomes.extend([exc] * (len(rows) - index))
            break
        except PermanentError as exc:
            outcomes.append(exc)
            continue
        row.from_address = current_app.config.get("WHATSAPP_FROM") or "console"
        row.delivery_status = result.status
        outcomes.append(result.provider_message_id)
    return outcomes


def refusals(rows: Sequence[OutboxRow]) -> dict[int, str]:
    """At send time, on the number each message goes to: WhatsApp consent (a reply in an
    open window needs no recorded opt-in; a campaign message always does), and free text
    only while the window is still open."""
    refused = {r.id: "not an outbound message" for r in rows if r.direction != "outbound"}
    single = [
        (r.id, r.customer_id, r.to_address)
        for r in rows
        if r.id not in refused and not r.campaign_id
    ]
    campaign = [
        (r.id, r.customer_id, r.to_address) for r in rows if r.id not in refused and r.campaign_id
    ]
    window = open_windows({a for _i, _c, a in single if a})
    closed = [
        r.id
        for r in rows
        if r.id not in refused
        and not r.campaign_id
        and not r.content_sid
        and r.to_address not in window
    ]
    refused.update(
        dict.fromkeys(closed, "the 24-hour window closed before it went: send a template")
    )
    return {
        **consent.refusals(CHANNEL, campaign),
        **consent.refusals(CHANNEL, single, implied=window),
        **refused,
    }


def after_send(rows: Sequence[OutboxRow]) -> None:
    """Each sent or failed message on the customer's timeline ("WhatsApp")."""
    app = current_app._get_current_object()
    for row in rows:
        if row.status not in ("sent", "failed"):
            continue
        if row.conversation_id is None:
            row.conversation_id = conversation_for(row.to_address, row.customer_id).id
        conversation = db.session.get(WhatsAppConversation, row.conversation_id)
        if conversation is not None:
            conversation.last_message_at = row.sent_at or utcnow()
        if row.customer_id and row.activity_id is None:
            notes = "sent" if row.status == "sent" else f"failed: {row.error_message}"
            activity = log_activity(
                row.customer_id,
                ACTIVITY,
                body=row.body,
                direction="sent",
                user_id=row.user_id,
                notes=notes,
                commit=False,
            )
            db.session.flush()
            row.activity_id = activity.id
        if row.status == "sent":
            message_sent.send(app, channel=CHANNEL, message_id=row.id, customer_id=row.customer_id)


def _public_id_sql(dialect: str) -> Any:
    if dialect == "postgresql":
        random_part = func.substr(
            func.md5(func.random().cast(db.String) + func.clock_timestamp().cast(db.String)), 1, 18
        )
    else:
        random_part = func.lower(func.hex(func.randomblob(9)))
    return literal("wam_") + random_part


def materialize(campaign: Campaign, customer_ids: Select[Any]) -> int:
    """One INSERT ... SELECT: a queued row per recipient with a phone who opted in to
    WhatsApp, the others ``suppressed`` with the reason."""
    dialect = db.session.get_bind().dialect.name
    link = db.session.get(WhatsAppCampaign, campaign.id)
    template = db.session.get(WhatsAppTemplate, link.template_id) if link else None
    status = case((consent.contactable_clause(CHANNEL), "queued"), else_="suppressed")
    source = select(
        _public_id_sql(dialect),
        literal(campaign.id),
        Customer.id,
        literal(campaign.created_by_id, db.Integer),
        literal(template.id if template else None, db.Integer),
        literal(template.content_sid if template else None, db.String),
        literal("outbound"),
        Customer.phone,
        status,
        literal(0),
        literal(utcnow(), db.DateTime(timezone=True)),
    ).where(Customer.id.in_(customer_ids), Customer.phone.is_not(None))
    columns = [
        "public_id",
        "campaign_id",
        "customer_id",
        "user_id",
        "template_id",
        "content_sid",
        "direction",
        "to_address",
        "status",
        "attempts",
        "created_at",
    ]
    db.session.execute(insert(WhatsAppMessage).from_select(columns, source))
    db.session.execute(
        db.update(WhatsAppMessage)
        .where(WhatsAppMessage.campaign_id == campaign.id, WhatsAppMessage.status == "suppressed")
        .values(error_code="suppressed", error_message="not opted in to WhatsApp, or opted out")
    )
    db.session.flush()
    return db.session.scalar(
        select(func.count())
        .select_from(WhatsAppMessage)
        .where(WhatsAppMessage.campaign_id == campaign.id)
    )


def register_delivery(app: Flask) -> None:
    register(
        app,
        DeliveryChannel(
            name=CHANNEL,
            model=WhatsAppMessage,
            provider=provider,
            batch_size=batch_size,
            rate_limit=rate_limit,
            send=send,
            materialize=materialize,
            refusals=refusals,
            after_send=after_send,
        ),
    )
