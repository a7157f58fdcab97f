"""The SMS channel's side of the delivery engine: provider, batches, consent, quiet hours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, and_, case, func, insert, literal, select

from app.crm.models import CommunicationPreference, Customer, Territory
from app.crm.services import log_activity
from app.current import app_object
from app.experiments import campaigns as ab_tests
from app.extensions import db
from app.messaging import consent
from app.messaging.delivery import DeliveryChannel, Outcome, RateLimit, register
from app.messaging.models import Campaign, Template
from app.messaging.outbox import OutboxRow
from app.messaging.rendering import customer_context, render
from app.models_base import utcnow
from app.signals import message_sent
from blueprints.sms import settings
from blueprints.sms.links import tag_text
from blueprints.sms.models import SmsConversation, SmsMessage
from providers.errors import AccountError, PermanentError, TransientError
from providers.sms import (
    MAX_BODY_CHARACTERS,
    OutgoingSms,
    SmsProvider,
    build_sms_provider,
    segment_info,
)

STATUS_PATH = "/api/sales/marketing/webhooks/twilio/status"
#: Why a campaign row was not sent: another customer in the audience has its number.
DUPLICATE_ADDRESS = "duplicate address"


def provider() -> SmsProvider:
    """The adapter for SMS_PROVIDER (twilio with credentials, else console)."""
    app = app_object()
    cached = app.extensions.get("decant_sms_provider")
    if cached is None:
        cached = build_sms_provider(app.config.get("SMS_PROVIDER") or "console", app.config)
        app.extensions["decant_sms_provider"] = cached
    return cached


def sender() -> str:
    return (
        current_app.config.get("TWILIO_PHONE_NUMBER")
        or current_app.config.get("TWILIO_MESSAGING_SERVICE_SID")
        or "console"
    )


def status_callback_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + STATUS_PATH


def rate_limit(_provider: Any) -> RateLimit:
    rate = settings.rate_limit()
    return RateLimit(key=f"sms:{sender()}", limit=rate.limit, window=rate.window)


def batch_size(_provider: Any) -> int:
    return max(1, int(settings.get("SMS_BATCH_SIZE")))


def _campaign_source(campaign: Campaign | None, variant: int | None) -> str:
    """The text a campaign row is rendered from: its A/B variant's own body or template,
    else the campaign's."""
    if campaign is None:
        return ""
    body, template_ref = ab_tests.variant_text(campaign.ab_test, variant)
    if body:
        return body
    if template_ref:
        template = db.session.scalar(select(Template).where(Template.public_id == template_ref))
        if template is not None and template.body:
            return template.body
    source = campaign.body
    if not source and campaign.template_id:
        template = db.session.get(Template, campaign.template_id)
        source = template.body if template else ""
    return source or ""


def _campaign_body(row: OutboxRow, cache: dict[tuple[int, int | None], tuple[str, str]]) -> str:
    """A campaign row's text (its variant's, in an A/B test), rendered for its customer at
    send time, its web links carrying the campaign's UTM parameters
    (:mod:`blueprints.sms.links`)."""
    key = (row.campaign_id, getattr(row, "variant", None))
    if key not in cache:
        campaign = db.session.get(Campaign, row.campaign_id)
        cache[key] = (_campaign_source(campaign, key[1]), campaign.public_id if campaign else "")
    source, reference = cache[key]
    customer = db.session.get(Customer, row.customer_id) if row.customer_id else None
    context = customer_context(customer) if customer else {}
    body = render(source, context, html=False).strip()
    return tag_text(body, reference) if reference else body


def send(sms: SmsProvider, rows: Sequence[OutboxRow]) -> list[Outcome]:
    """One provider call per row; after a transient error the rest wait for the retry."""
    outcomes: list[Outcome] = []
    bodies: dict[tuple[int, int | None], tuple[str, str]] = {}
    callback = status_callback_url()
    for index, row in enumerate(rows):
        if row.campaign_id and row.body is None:
            row.body = _campaign_body(row, bodies)
            info = segment_info(row.body)
            row.segments, row.encoding = info.segments, info.encoding
            too_long = length_problem(row.body, info.segments)
            if too_long is not None:
                outcomes.append(too_long)
                continue
        row.from_address = row.from_address or sender()
        message = OutgoingSms(
            to=row.to_address,
            body=row.body or "",
            media_urls=tuple(row.media_urls or ()),
            status_callback=callback if sms.name != "console" else None,
        )
        try:
            result = sms.send(message)
        except TransientError as exc:
            outcomes.extend([exc] * (len(rows) - index))
            break
        except AccountError as exc:  # every later text would meet it too
            outcomes.extend([exc] * (len(rows) - index))
            break
        except PermanentError as exc:
            outcomes.append(exc)
            continue
        if sms.name == "console":
            from app.dev import capture

            capture(
                "sms",
                row.to_address,
                row.body or "",
                customer_id=row.customer_id,
                user_id=row.user_id,
                meta={"segments": row.segments, "media": list(row.media_urls or ())},
            )
        row.delivery_status = result.status
        outcomes.append(result.provider_message_id)
    return outcomes


def length_problem(body: str, segments: int) -> PermanentError | None:
    """Why a text personalised for its recipient cannot go (a longer name, a custom
    field...): Twilio refuses a body over 1,600 characters (error 21617), and the
    SMS_MAX_SEGMENTS setting caps what one text may cost."""
    if len(body) > MAX_BODY_CHARACTERS:
        return PermanentError(
            f"the text is {len(body):,} characters once personalised for this recipient; "
            f"Twilio takes at most {MAX_BODY_CHARACTERS:,}",
            code="21617",
        )
    limit = int(settings.get("SMS_MAX_SEGMENTS"))
    if segments > limit:
        return PermanentError(
            f"the text is {segments} segments once personalised for this recipient; "
            f"at most {limit} allowed (SMS_MAX_SEGMENTS)",
            code="too_long",
        )
    return None


def marketing(row: Any) -> bool:
    """A campaign's text or a flow's (app/flows): opt-in required, quiet hours kept."""
    return bool(row.campaign_id or getattr(row, "flow_run_id", None))


def refusals(rows: Sequence[OutboxRow]) -> dict[int, str]:
    """Checked at send time on the number each text goes to: opt-in, opt-outs and the
    suppression list (a one-to-one reply to a number that just texted us needs no
    recorded opt-in; a campaign text always does)."""
    from blueprints.sms.services import conversational

    refused = {r.id: "not an outbound message" for r in rows if r.direction != "outbound"}
    campaign = [
        (r.id, r.customer_id, r.to_address) for r in rows if r.id not in refused and marketing(r)
    ]
    single = [
        (r.id, r.customer_id, r.to_address)
        for r in rows
        if r.id not in refused and not marketing(r)
    ]
    texted_us = conversational({address for _i, _c, address in single if address})
    return {
        **refused,
        **consent.refusals("sms", campaign),
        **consent.refusals("sms", single, implied=texted_us),
    }


def hold_until(rows: Sequence[OutboxRow]) -> dict[int, datetime]:
    """Campaign and flow rows outside their customer's preferred contact window wait for it (the
    windows of a batch's customers read in one query)."""
    customer_ids = {r.customer_id for r in rows if marketing(r) and r.customer_id}
    if not customer_ids:
        return {}
    pref = CommunicationPreference
    windows = {
        customer_id: (start, end, own_zone or territory_zone)
        for customer_id, start, end, own_zone, territory_zone in db.session.execute(
            select(
                pref.customer_id,
                pref.preferred_contact_start,
                pref.preferred_contact_end,
                pref.timezone,
                Territory.timezone,
            )
            .join(Customer, Customer.id == pref.customer_id)
            .outerjoin(Territory, Territory.id == Customer.territory_id)
            .where(
                pref.customer_id.in_(customer_ids),
                pref.preferred_contact_start.is_not(None),
                pref.preferred_contact_end.is_not(None),
            )
        )
    }
    holds: dict[int, datetime] = {}
    now = utcnow()
    for row in rows:
        window = windows.get(row.customer_id) if marketing(row) else None
        if window is None:
            continue
        when = next_window_start(now, *window)
        if when is not None:
            holds[row.id] = when
    return holds


def next_window_start(now: datetime, start, end, tz_name: str | None) -> datetime | None:
    """None when ``now`` is inside the window, else the next start (UTC)."""
    tz = settings.zone(tz_name)
    local = now.astimezone(tz)
    if settings.in_window(local.time(), start, end):
        return None
    candidate = datetime.combine(local.date(), start, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=tz)
    return candidate.astimezone(now.tzinfo)


def after_send(rows: Sequence[OutboxRow]) -> None:
    """File each sent or failed text in its conversation and the customer's timeline."""
    from blueprints.sms.services import conversation_for

    app = app_object()
    for row in rows:
        if row.status not in ("sent", "failed"):
            continue
        if row.conversation_id is None:
            row.conversation_id = conversation_for(row.customer_id, row.to_address).id
        conversation = db.session.get(SmsConversation, row.conversation_id)
        if conversation is not None:
            conversation.last_message_at = row.sent_at or utcnow()
        if row.customer_id and row.activity_id is None:
            notes = "sent" if row.status == "sent" else f"failed: {row.error_message}"
            activity = log_activity(
                row.customer_id,
                "SMS",
                body=row.body,
                direction="sent",
                user_id=row.user_id,
                notes=notes,
                commit=False,
            )
            db.session.flush()
            row.activity_id = activity.id
        if row.status == "sent":
            message_sent.send(
                app, channel="sms", message_id=row.public_id, customer_id=row.customer_id
            )


def _public_id_sql(dialect: str):
    """A fresh ``sms_...`` public id computed by the database, per row."""
    if dialect == "postgresql":
        random_part = func.substr(
            func.md5(func.random().cast(db.String) + func.clock_timestamp().cast(db.String)), 1, 18
        )
    else:
        random_part = func.lower(func.hex(func.randomblob(9)))
    return literal("sms_") + random_part


def materialize(campaign: Campaign, customer_ids: Select[Any]) -> int:
    """One INSERT ... SELECT: a queued row per recipient with a phone, or suppressed. One
    campaign texts a number once: customers sharing a phone get one queued row (an
    opted-in one first), the others are ``suppressed`` as a ``duplicate address``."""
    dialect = db.session.get_bind().dialect.name
    audience = (
        select(
            Customer.id.label("customer_id"),
            Customer.phone.label("phone"),
            case((consent.contactable_clause("sms"), 1), else_=0).label("contactable"),
        )
        .where(Customer.id.in_(customer_ids), Customer.phone.is_not(None))
        .subquery()
    )
    ranked = select(
        *audience.c,
        func.row_number()
        .over(
            partition_by=audience.c.phone,
            order_by=(audience.c.contactable.desc(), audience.c.customer_id),
        )
        .label("copy"),
    ).subquery()
    duplicate = ranked.c.copy > 1
    status = case(
        (and_(ranked.c.copy == 1, ranked.c.contactable == 1), "queued"), else_="suppressed"
    )
    now = utcnow()
    source = select(
        _public_id_sql(dialect),
        literal(campaign.id),
        ranked.c.customer_id,
        literal(campaign.created_by_id, db.Integer),
        literal(campaign.template_id, db.Integer),
        literal("outbound"),
        ranked.c.phone,
        literal("[]").cast(db.JSON) if dialect == "postgresql" else literal("[]"),
        literal(0),
        status,
        case((duplicate, "suppressed"), else_=None),
        case((duplicate, DUPLICATE_ADDRESS), else_=None),
        literal(0),
        literal(now, db.DateTime(timezone=True)),
    )
    db.session.execute(
        insert(SmsMessage).from_select(
            [
                "public_id",
                "campaign_id",
                "customer_id",
                "user_id",
                "template_id",
                "direction",
                "to_address",
                "media_urls",
                "segments",
                "status",
                "error_code",
                "error_message",
                "attempts",
                "created_at",
            ],
            source,
        )
    )
    db.session.execute(
        db.update(SmsMessage)
        .where(
            SmsMessage.campaign_id == campaign.id,
            SmsMessage.status == "suppressed",
            SmsMessage.error_code.is_(None),
        )
        .values(error_code="suppressed", error_message="not opted in to SMS, or opted out")
    )
    db.session.flush()
    total = db.session.scalar(
        select(func.count()).select_from(SmsMessage).where(SmsMessage.campaign_id == campaign.id)
    )
    return int(total or 0)


def register_delivery(app: Flask) -> None:
    register(
        app,
        DeliveryChannel(
            name="sms",
            model=SmsMessage,
            provider=provider,
            batch_size=batch_size,
            rate_limit=rate_limit,
            send=send,
            materialize=materialize,
            refusals=refusals,
            after_send=after_send,
            hold_until=hold_until,
        ),
    )
