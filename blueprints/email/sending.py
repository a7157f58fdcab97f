"""The email side of the delivery engine: provider, batches, rendering, consent, activities.

Registered as the ``email`` :class:`~app.messaging.delivery.DeliveryChannel`. Single sends
keep the body rendered at request time; campaign rows are rendered at send time from the
campaign, one batch of customers loaded in one query.
"""

from __future__ import annotations

import contextvars
import html as html_lib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from functools import cached_property, lru_cache
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Select, and_, case, func, insert, literal, select
from sqlalchemy.orm import aliased

from app import bulk
from app.auth.models import User
from app.crm.models import Activity, Customer, Territory
from app.dev import capture
from app.extensions import db
from app.messaging import consent, delivery, rendering
from app.messaging.models import Campaign
from app.messaging.outbox import OutboxRow
from app.models_base import utcnow
from app.signals import message_sent
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.email.topic_refusals import topic_refusals
from providers.email import (
    MESSAGE_ID_KEY,
    Merge,
    MergeLayout,
    OutgoingEmail,
    build_email_provider,
)
from providers.email.batches import PreparedBatch, stage, transmit
from providers.errors import PermanentError, ProviderError

#: What sending reads of a claimed row (engagement counters and timestamps are not).
CLAIM_COLUMNS = (
    "id",
    "public_id",
    "campaign_id",
    "customer_id",
    "user_id",
    "activity_id",
    "to_address",
    "subject",
    "html",
    "text",
    "status",
    "attempts",
    "claim_token",
)
DEFAULT_RATE_LIMIT = "600/60"
DEFAULT_BATCH_SIZE = 500
#: Why a campaign row was not sent: another customer in the audience has its address.
DUPLICATE_ADDRESS = "duplicate address"
_console_rows: contextvars.ContextVar[dict[str, OutboxRow] | None] = contextvars.ContextVar(
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


def _public_id_sql(order_by: Any):
    """Public ids for a campaign's rows, written by the database: ``eml_``, the second it
    was prepared (8 hex digits), the row's place in ``order_by`` (6) and 56 random bits
    (14). Ids made by one statement thus ascend with the rows, so each batch's new index
    entries (here and in its activities', which take the same id) share a few pages
    instead of landing on one random page each; the random part keeps them unguessable."""
    stamp = f"eml_{int(time.time()) & 0xFFFFFFFF:08x}"
    place = func.row_number().over(order_by=order_by) % 0x1000000
    if db.session.get_bind().dialect.name == "postgresql":
        place_hex = func.lpad(func.to_hex(place), 6, "0", type_=db.String)
        uuids = [func.replace(func.cast(func.gen_random_uuid(), db.Text), "-", "") for _ in "ab"]
        random = func.substr(uuids[0], 1, 12, type_=db.String) + func.substr(uuids[1], 1, 2)
    else:
        place_hex = func.printf("%06x", place, type_=db.String)
        random = func.lower(func.hex(func.randomblob(7)), type_=db.String)
    return literal(stamp, db.String) + place_hex + random


def materialize(campaign: Campaign, customer_ids: Select[Any]) -> int:
    """One INSERT ... SELECT: a row per audience customer with an address. One campaign
    sends one message per address: customers sharing an address (compared lower-cased)
    get one queued row, a contactable one first; the others are ``suppressed`` as a
    ``duplicate address`` (SendGrid would refuse a request holding the address twice)."""
    now = utcnow()
    address = func.lower(Customer.email)
    audience = (
        select(
            Customer.id.label("customer_id"),
            address.label("address"),
            case((consent.contactable_clause("email"), 1), else_=0).label("contactable"),
        )
        .where(Customer.id.in_(customer_ids.scalar_subquery()), Customer.email.is_not(None))
        .subquery()
    )
    ranked = select(
        *audience.c,
        func.row_number()
        .over(
            partition_by=audience.c.address,
            order_by=(audience.c.contactable.desc(), audience.c.customer_id),
        )
        .label("copy"),
    ).subquery()
    duplicate = ranked.c.copy > 1
    queued = and_(ranked.c.copy == 1, ranked.c.contactable == 1)
    source = select(
        _public_id_sql(ranked.c.customer_id),
        literal(campaign.id),
        ranked.c.customer_id,
        literal(campaign.created_by_id),
        literal(campaign.template_id),
        ranked.c.address,
        case((queued, "queued"), else_="suppressed"),
        case((queued, None), else_="suppressed"),
        case((duplicate, DUPLICATE_ADDRESS), else_=None),
        literal(0),
        literal(0),
        literal(0),
        literal(campaign.scheduled_at),
        literal(now),
    )
    columns = [
        "public_id",
        "campaign_id",
        "customer_id",
        "user_id",
        "template_id",
        "to_address",
        "status",
        "error_code",
        "error_message",
        "attempts",
        "open_count",
        "click_count",
        "scheduled_at",
        "created_at",
    ]
    db.session.execute(insert(EmailMessage).from_select(columns, source))
    return db.session.scalar(select(func.count()).where(EmailMessage.campaign_id == campaign.id))


# --- consent at send time ----------------------------------------------------------------


def refusals(rows: Sequence[OutboxRow]) -> dict[int, str]:
    return topic_refusals(rows) | consent.refusals(
        "email", [(r.id, r.customer_id, r.to_address) for r in rows]
    )


# --- building messages -------------------------------------------------------------------


def render_for(
    message: EmailMessage,
    subject: str,
    html: str,
    context: dict[str, Any],
    unsubscribe: str | None = None,
) -> rendering.RenderedEmail:
    """Render tokens, inline CSS, add footer and pixel, rewrite links, derive the text."""
    unsubscribe = unsubscribe or tracking.unsubscribe_url(message.id)
    context = {**context, "unsubscribe_url": unsubscribe}
    out_subject = " ".join(rendering.render(subject, context, html=False).split())
    body = rendering.render(html, context, html=True)
    if "<style" in body.lower():
        body = rendering.inline_css(body)
    body = tracking.add_footer_and_pixel(body, message.id, "unsubscribe_url" in html, unsubscribe)
    body = tracking.rewrite_links(body, message.id)
    return rendering.RenderedEmail(out_subject, body, rendering.html_to_text(body))


# Campaign template prepared once: CSS inlined, footer, pixel and tracked links put in the
# source as our own tokens, the text part derived from it; per recipient only the tokens
# are rendered. Used when that provably gives the same message as render_for.
_OWN = "dc_send_"
_OPEN, _PREFERENCES, _CLICK = f"{_OWN}open", f"{_OWN}preferences", f"{_OWN}click_"
_HREF_WITH_TOKEN = re.compile(r"""\bhref\s*=\s*(["'])([^"']*\{[{%#][^"']*)\1""", re.IGNORECASE)
_UNSUBSCRIBE_TOKEN = re.compile(r"\{\{\s*unsubscribe_url\s*\}\}")


@dataclass(frozen=True)
class PreparedTemplate:
    html: str  # Jinja source (autoescaped)
    text: str  # Jinja source of the text part (not escaped)
    links: tuple[str, ...]  # the URL behind each click token, in order
    footer: bool  # the footer (with the preferences link) was added

    @cached_property
    def click_tokens(self) -> tuple[str, ...]:
        """The token standing for each link, in order."""
        return tuple(f"{_CLICK}{index}" for index in range(len(self.links)))

    @cached_property
    def merge_plan(self) -> tuple[MergeLayout, tuple[rendering.Token, ...], int] | None:
        """The template as a :class:`MergeLayout`, each field's token (a token renders
        once per part: its HTML field is escaped, its text field not, so HTML fields
        come first and the text fields follow from index ``text_from``), or None when
        Jinja must render it."""
        html = rendering.simple_pieces(self.html, True)
        text = rendering.simple_pieces(self.text, False)
        if html is None or text is None:
            return None
        fields: dict[tuple[rendering.Token, bool], int] = {}
        for piece in html:
            if piece.__class__ is not str:
                fields.setdefault((piece, True), len(fields))  # type: ignore[arg-type]
        text_from = len(fields)
        for piece in text:
            if piece.__class__ is not str:
                fields.setdefault((piece, False), len(fields))  # type: ignore[arg-type]

        def parts(pieces: tuple[str | rendering.Token, ...], html: bool) -> tuple[str | int, ...]:
            return tuple(p if p.__class__ is str else fields[(p, html)] for p in pieces)  # type: ignore[misc, index]

        layout = MergeLayout(parts(html, True), parts(text, False))
        return layout, tuple(token for token, _html in fields), text_from

    @cached_property
    def own_places(self) -> dict[str, tuple[int, ...]]:
        """Where each of our own URLs (tracking, unsubscribe) goes: token name to the
        numbers of the fields holding it."""
        plan = self.merge_plan
        places: dict[str, list[int]] = {}
        for index, token in enumerate(plan[1] if plan else ()):
            if _is_own(token.name):
                places.setdefault(token.name, []).append(index)
        return {name: tuple(numbers) for name, numbers in places.items()}

    @cached_property
    def link_places(self) -> tuple[tuple[int, ...], ...]:
        """For each tracked link, in order, the fields holding its click URL."""
        return tuple(self.own_places.get(token, ()) for token in self.click_tokens)

    @cached_property
    def customer_tokens(self) -> tuple[tuple[rendering.Token, int | None, int | None], ...]:
        """The customer's tokens: each with its HTML field and its text field (None
        where the part does not use it). Our own URLs are left out."""
        plan = self.merge_plan
        if plan is None:
            return ()
        _layout, tokens, text_from = plan
        places: dict[rendering.Token, list[int | None]] = {}
        for index, token in enumerate(tokens):
            if not _is_own(token.name):
                places.setdefault(token, [None, None])[index >= text_from] = index
        return tuple((token, html, text) for token, (html, text) in places.items())


def _is_own(name: str) -> bool:
    return name.startswith(_OWN) or name == "unsubscribe_url"


@lru_cache(maxsize=16)
def prepare_template(source: str, public_base: str) -> PreparedTemplate | None:
    """The campaign body prepared once, or None when only per-recipient rendering is safe."""
    tokens = rendering.template_tokens(source)
    if not source or any(not t.startswith("{{") or _OWN in t for t in tokens):
        return None  # blocks or comments: the output's shape may vary per recipient
    for _quote, url in _HREF_WITH_TOKEN.findall(source):
        if not _UNSUBSCRIBE_TOKEN.fullmatch(url.strip()):
            return None  # a link built from tokens: tracked per recipient
    try:
        names = rendering.undeclared_tokens(source, html=True)
    except Exception:
        return None
    body = source
    if "<style" in body.lower():
        body = rendering.inline_css(body)
        if rendering.template_tokens(body) != tokens:
            return None
        try:
            if rendering.undeclared_tokens(body, html=True) != names:
                return None
        except Exception:
            return None
    marker = body.lower().rfind("</body>")
    if marker != -1 and any(
        m.start() < marker < m.end() for m in rendering._JINJA_TAG.finditer(body)
    ):
        return None
    footer = "unsubscribe_url" not in source
    extra = ""
    if footer:
        extra += tracking.footer_html("{{ unsubscribe_url }}", f"{{{{ {_PREFERENCES} }}}}")
    body = tracking.insert_before_body_end(body, extra + tracking.pixel_html(f"{{{{ {_OPEN} }}}}"))
    own = public_base.rstrip("/") + "/email/"
    links: list[str] = []

    def swap(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(3))
        if url.startswith(own):
            return match.group(0)
        links.append(url)
        token = f"{{{{ {_CLICK}{len(links) - 1} }}}}"
        return f"{match.group(1)}{match.group(2)}{token}{match.group(2)}"

    body = tracking._HREF.sub(swap, body)
    text = rendering.html_to_text(body)
    expected = [t for t in rendering.template_tokens(body) if _OPEN not in t]
    if rendering.template_tokens(text) != expected:
        return None
    return PreparedTemplate(body, text, tuple(links), footer)


def campaign_link(message: EmailMessage, number: int) -> str | None:
    """The URL behind link ``number`` of a campaign message (its campaign's template's,
    as :func:`prepare_template` numbers them when the message is rendered), or None."""
    if message.campaign_id is None or number < 0:
        return None
    campaign = db.session.get(Campaign, message.campaign_id)
    if campaign is None:
        return None
    prepared = prepare_template(campaign.html or "", current_app.config["PUBLIC_BASE_URL"])
    if prepared is None or number >= len(prepared.links):
        return None
    return prepared.links[number]


def render_prepared(
    message_id: int,
    subject: str,
    prepared: PreparedTemplate,
    context: dict[str, Any],
    unsubscribe: str,
    urls: tracking.TrackingUrls | None = None,
) -> tuple[rendering.RenderedEmail, Merge | None]:
    """:func:`render_for` through a prepared template; also the message as a
    :class:`Merge` of the template's layout (None when that cannot rebuild it)."""
    urls = urls or tracking.TrackingUrls()
    context = {**context, "unsubscribe_url": unsubscribe}
    out_subject = " ".join(rendering.render(subject, context, html=False).split())
    plan = prepared.merge_plan
    tracking_token = urls.tracking_token(message_id)  # the pixel's, and the links'
    if plan is None or not urls.html_safe:
        own = {"unsubscribe_url": unsubscribe, _OPEN: urls.open_url_for(tracking_token)}
        if prepared.footer:
            own[_PREFERENCES] = urls.preferences_url(message_id)
        for number, name in enumerate(prepared.click_tokens):
            own[name] = urls.link_url(tracking_token, number)
        context.update(own)  # plain text, escaped where they land like any value
        html = rendering.render(prepared.html, context, html=True)
        text = rendering.tidy_text(rendering.render(prepared.text, context, html=False))
        return rendering.RenderedEmail(out_subject, html, text), None
    layout, tokens, _text_from = plan
    values: list[str] = [""] * len(tokens)
    # Our own URLs are signed and read the same escaped or not.
    places = prepared.own_places
    for index in places.get("unsubscribe_url", ()):
        values[index] = unsubscribe
    for index in places.get(_OPEN, ()):
        values[index] = urls.open_url_for(tracking_token)
    preferences_places = places.get(_PREFERENCES)
    if preferences_places:
        url = urls.preferences_url(message_id)
        for index in preferences_places:
            values[index] = url
    for number, link_places in enumerate(prepared.link_places):
        click = urls.link_url(tracking_token, number)
        for index in link_places:
            values[index] = click
    # The text part was tidied with the tokens in place; a value that is empty or has
    # loose whitespace needs tidying again (and then the layout no longer holds).
    loose = False
    forms, loose_text = rendering.token_forms, rendering.loose_text
    for token, html_index, text_index in prepared.customer_tokens:
        text, html = forms(token, context)
        if html_index is not None:
            values[html_index] = html
        if text_index is not None:
            values[text_index] = text
            loose = loose or loose_text(text)
    merge = Merge(layout, values)
    if loose:
        tidy = rendering.tidy_text(merge.text)
        if tidy != merge.text:
            return rendering.RenderedEmail(out_subject, merge.html, tidy), None
    return rendering.RenderedEmail(out_subject, merge.html, merge.text), merge


@dataclass(frozen=True)
class Envelope:
    """What every message of a batch shares: the sender and the unsubscribe mailto."""

    from_email: str
    from_name: str | None
    unsubscribe_mailto: str | None

    @classmethod
    def from_config(cls) -> Envelope:
        config = current_app.config
        name, address = _sender(config.get("FROM_EMAIL") or "")
        return cls(
            address or "marketing@example.com",
            name or None,
            config.get("EMAIL_UNSUBSCRIBE_MAILTO") or None,
        )


def outgoing(
    message: EmailMessage,
    rendered: rendering.RenderedEmail,
    reply_to: str | None,
    unsubscribe: str | None = None,
    merge: Merge | None = None,
    envelope: Envelope | None = None,
):
    envelope = envelope or Envelope.from_config()
    list_unsubscribe = f"<{unsubscribe or tracking.unsubscribe_url(message.id)}>"
    if envelope.unsubscribe_mailto:
        list_unsubscribe += f", <mailto:{envelope.unsubscribe_mailto}?subject=unsubscribe>"
    return OutgoingEmail(
        to=message.to_address,
        from_email=envelope.from_email,
        from_name=envelope.from_name,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers={
            "List-Unsubscribe": list_unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        reply_to=reply_to,
        idempotency_key=message.public_id,
        metadata={MESSAGE_ID_KEY: message.public_id},
        merge=merge,
    )


@lru_cache(maxsize=8)
def _sender(value: str) -> tuple[str, str]:
    return parseaddr(value)


def _campaign_parts(rows: Sequence[OutboxRow]) -> dict[int, Any]:
    """What sending reads of the rows' campaigns (id, subject, html, created_by_id), as
    plain rows: loading Campaign objects again after every commit cost more."""
    ids = {r.campaign_id for r in rows if r.campaign_id is not None}
    if not ids:
        return {}
    parts = select(Campaign.id, Campaign.subject, Campaign.html, Campaign.created_by_id)
    return {c.id: c for c in bulk.execute(parts.where(Campaign.id.in_(ids)), {})}


def _contexts(ids: set[int], custom_fields: bool = True) -> dict[int, dict[str, Any]]:
    """Each customer's token values (:func:`rendering.customer_context`), from one query
    of plain columns (no Customer, Territory and User objects per recipient). Without
    ``custom_fields`` (the templates use none) their JSON is neither read nor decoded,
    which was half of the query's cost."""
    if not ids:
        return {}
    statement = _context_query(db.session.get_bind().dialect.name, custom_fields)
    found = bulk.execute(statement, {"ids": bulk.json_list(ids)})
    if custom_fields:
        return {row[0]: rendering.context_values(*row[1:]) for row in found}
    return {row[0]: rendering.context_values(*row[1:], None) for row in found}


@lru_cache(maxsize=8)
def _context_query(dialect: str, custom_fields: bool) -> Select[Any]:
    territory, rep = aliased(Territory), aliased(User)
    columns = [Customer.id, Customer.name, Customer.last_order_date, territory.name, rep.name]
    return (
        select(*columns, *([Customer.custom_fields] if custom_fields else []))
        .outerjoin(territory, Customer.territory_id == territory.id)
        .outerjoin(rep, Customer.rep_id == rep.id)
        .where(Customer.id.in_(bulk.listed("ids", dialect)))
    )


@lru_cache(maxsize=64)
def _uses_custom_fields(subject: str, html: str) -> bool:
    """Whether a campaign's subject or body uses a token other than the core ones."""
    try:
        names = rendering.undeclared_tokens(subject, html=False)
        names |= rendering.undeclared_tokens(html, html=True)
    except Exception:  # noqa: BLE001 - a template Jinja cannot parse: read everything
        return True
    return bool(names - set(rendering.CORE_TOKENS))


def build_messages(
    rows: Sequence[Any],
    campaigns: dict[int, Any],
    contexts: dict[int, dict[str, Any]],
) -> tuple[list[OutgoingEmail | None], dict[int, ProviderError]]:
    """A batch's messages, in row order: campaign rows rendered for their customer, single
    sends as they were rendered at request time. A row that cannot be built gets None
    and its error under its index. Each campaign row keeps its rendering in
    ``_rendered`` (for its activity)."""
    messages: list[OutgoingEmail | None] = []
    problems: dict[int, ProviderError] = {}
    public_base = current_app.config["PUBLIC_BASE_URL"]
    urls = tracking.TrackingUrls()
    envelope = Envelope.from_config()
    for index, row in enumerate(rows):
        try:
            row_id, campaign_id = row.id, row.campaign_id
            unsubscribe = urls.unsubscribe_url(row_id)
            merge = None
            if campaign_id is not None:
                campaign = campaigns[campaign_id]
                context = contexts.get(row.customer_id) or {}
                prepared = prepare_template(campaign.html or "", public_base)
                if prepared is not None:
                    rendered, merge = render_prepared(
                        row_id, campaign.subject or "", prepared, context, unsubscribe, urls
                    )
                else:
                    rendered = render_for(
                        row, campaign.subject or "", campaign.html or "", context, unsubscribe
                    )
                row._rendered = rendered  # for the activity, not stored on the row
            else:
                rendered = rendering.RenderedEmail(
                    row.subject or "", row.html or "", row.text or ""
                )
            messages.append(outgoing(row, rendered, None, unsubscribe, merge, envelope))
        except Exception as exc:  # a template the sandbox refuses now, a bad header...
            problems[index] = PermanentError(f"cannot build message: {exc}", code="render")
            messages.append(None)
    return messages, problems


def prepare(_p: Any, rows: Sequence[OutboxRow]) -> PreparedBatch:
    """Render the campaign rows for their customers (reads the database)."""
    campaigns = _campaign_parts(rows)
    customer_ids = {r.customer_id for r in rows if r.campaign_id and r.customer_id}
    custom = any(_uses_custom_fields(c.subject or "", c.html or "") for c in campaigns.values())
    contexts = _contexts(customer_ids, custom)
    messages, problems = build_messages(rows, campaigns, contexts)
    return PreparedBatch(messages, problems)


def send(p: Any, rows: Sequence[OutboxRow]) -> list[Any]:
    """Render (campaign rows), hand the batch to the provider, one outcome per row."""
    batch = prepare(p, rows)
    console = getattr(p, "name", None) == "console"
    token = _console_rows.set({r.public_id: r for r in rows} if console else None)
    try:
        return transmit(p, stage(p, batch))
    finally:
        _console_rows.reset(token)


# --- after the send ------------------------------------------------------------------------


def after_send(rows: Sequence[OutboxRow]) -> None:
    """Timeline entries for the rows that went, in one executemany INSERT
    (:func:`app.bulk.insert_rows`: the four values of each row go to the driver as they are).

    Each activity's public id is its message's with the activity prefix, so the UPDATE
    that marks the messages sent also links them to their activities
    (:func:`sent_values`): no RETURNING, which SQLite answers row by row, and no UPDATE
    per message."""
    _announce_sent(rows)
    sent = [r for r in rows if r.status == "sent" and r.customer_id and r.activity_id is None]
    if not sent:
        return
    # What a group of rows shares (type, user, time) is bound once per statement. A
    # campaign row's user is its campaign's author (written there by materialize).
    groups: dict[tuple[str, int | None, Any], list[tuple[str, int, str | None, str | None]]]
    groups = {}
    for row in sent:
        rendered = getattr(row, "_rendered", None)
        shared = (
            "Email Campaign" if row.campaign_id is not None else "Email",
            row.user_id,
            row.sent_at or utcnow(),
        )
        groups.setdefault(shared, []).append(
            (
                activity_public_id(row.public_id),
                row.customer_id,
                rendered.subject if rendered else row.subject,
                rendered.text if rendered else row.text,
            )
        )
    for (kind, user_id, occurred_at), activities in groups.items():
        bulk.insert_rows(
            Activity.__table__,
            _ACTIVITY_COLUMNS,
            activities,
            {"type": kind, "direction": "sent", "user_id": user_id, "occurred_at": occurred_at},
        )


_ACTIVITY_COLUMNS = ("public_id", "customer_id", "subject", "body")


def _announce_sent(rows: Sequence[OutboxRow]) -> None:
    """``message_sent`` for each row that went (inside the batch's transaction)."""
    if not message_sent.receivers:
        return
    app = current_app._get_current_object()
    for row in rows:
        if row.status == "sent":
            message_sent.send(
                app, channel="email", message_id=row.public_id, customer_id=row.customer_id
            )


def sent_values() -> dict[str, Any]:
    """Set with the sent status: the message's activity, found by its public id."""
    activity = Activity.__table__
    own_activity = (
        select(activity.c.id)
        .where(activity.c.public_id == literal(f"{Activity.id_prefix}_") + _public_id_suffix())
        .scalar_subquery()
    )
    return {"activity_id": own_activity}


def activity_public_id(message_public_id: str) -> str:
    """The public id of a message's activity: its own, with the activity prefix."""
    return f"{Activity.id_prefix}_{message_public_id.partition('_')[2]}"


def _public_id_suffix():
    """SQL for what follows ``eml_`` in a message's public id."""
    column = EmailMessage.__table__.c.public_id
    return func.substr(column, len(EmailMessage.id_prefix) + 2)


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
            sent_values=sent_values,
            claim_columns=CLAIM_COLUMNS,
            prepare=prepare,
            stage=stage,
            transmit=transmit,
        ),
    )
