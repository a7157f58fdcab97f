"""The email side of the delivery engine: provider, batches, rendering, consent, activities.

Registered as the ``email`` :class:`~app.messaging.delivery.DeliveryChannel`. Single sends
keep the body rendered at request time; campaign rows are rendered at send time from the
campaign's template, prepared once (CSS inlined, footer, pixel and numbered links put in,
the text part derived, compiled by the sandbox) and rendered by Jinja per recipient, one
batch of customers' token values read in one query. A flow's rows are rendered the same
way from their template (they keep no body; each numbers its own links, and its rendered
subject is stored on it when it goes).
"""

from __future__ import annotations

import contextvars
import html as html_lib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.utils import formataddr, parseaddr
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from markupsafe import escape
from sqlalchemy import Select, and_, case, func, insert, literal, select

from app.crm.models import Activity, Customer
from app.current import app_object
from app.dev import capture
from app.experiments import campaigns as ab_tests
from app.extensions import db
from app.messaging import consent, delivery, rendering, sandbox
from app.messaging import footer as email_footer
from app.messaging.contexts import customer_contexts
from app.messaging.models import Campaign, Template
from app.messaging.outbox import OutboxRow
from app.models_base import utcnow
from app.signals import message_sent
from blueprints.email import failover, links, tracking
from blueprints.email.domains import consumer_clause
from blueprints.email.models import EmailMessage
from blueprints.email.topic_refusals import topic_refusals
from providers.email import MESSAGE_ID_KEY, OutgoingEmail, SendResult
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
    "variant",
    "flow_run_id",
    "template_id",
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
    app = app_object()
    cached = app.extensions.get("decant_email_provider")
    if cached is None:
        settings = dict(app.config)
        settings["console_sink"] = _console_sink
        cached = failover.build_provider(app, settings)  # one provider, or several in order
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
        meta={
            "from": formataddr((message.from_name or "", message.from_email)),
            "headers": dict(message.headers),
            **dict(message.metadata),
        },
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


def public_id_sql(order_by: Any) -> Any:
    """Public ids for a campaign's (or a flow step's) rows, written by the database:
    ``eml_``, the second it was prepared (8 hex digits), the row's place in ``order_by``
    (6) and 56 random bits (14). Ids made by one statement thus ascend with the rows, so
    each batch's new index entries (here and in its activities', which take the same id)
    share a few pages instead of landing on one random page each; the random part keeps
    them unguessable."""
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
        public_id_sql(ranked.c.customer_id),
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
        consumer_clause(ranked.c.address),  # the column default does not run here
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
        "consumer_mailbox",
    ]
    db.session.execute(insert(EmailMessage).from_select(columns, source))
    prepared = prepare_template(campaign.html or "", current_app.config["PUBLIC_BASE_URL"])
    if prepared is not None:
        links.campaign_numbers(campaign.id, prepared.links)  # commits
    total = db.session.scalar(select(func.count()).where(EmailMessage.campaign_id == campaign.id))
    return int(total or 0)


# --- consent at send time ----------------------------------------------------------------


def refusals(rows: Sequence[OutboxRow]) -> dict[int, str]:
    return topic_refusals(rows) | consent.refusals(
        "email", [(r.id, r.customer_id, r.to_address) for r in rows]
    )


# --- building messages -------------------------------------------------------------------


def render_for(
    message: Any,
    subject: str,
    html: str,
    context: dict[str, Any],
    unsubscribe: str | None = None,
) -> rendering.RenderedEmail:
    """Render one message on its own: tokens, CSS inlined, footer and pixel, links
    numbered (their URLs in ``links``, for the caller to store), the text part derived."""
    unsubscribe = unsubscribe or tracking.unsubscribe_url(message.id)
    context = {**context, **send_values(message.id, getattr(message, "to_address", ""), html)}
    context["unsubscribe_url"] = unsubscribe
    out_subject = " ".join(rendering.render(subject, context, html=False).split())
    body = rendering.render(html, context, html=True)
    if "<style" in body.lower():
        body = rendering.inline_css(body)
    token = tracking.tracking_token(message.id)
    body = tracking.add_footer_and_pixel(
        body, token, message.id, "unsubscribe_url" in html, unsubscribe, "postal_address" in html
    )
    body, urls = tracking.number_links(body, token)
    return rendering.RenderedEmail(out_subject, body, rendering.html_to_text(body), urls)


def send_values(
    message_id: int,
    to_address: str,
    source: str,
    urls: tracking.Urls | None = None,
    shared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The tokens every email may use besides the customer's (``SEND_TOKENS``); the
    preferences link is signed only when ``source`` uses it. ``shared``: those every
    message of a batch has (:func:`shared_send_values`)."""
    urls = urls or tracking.Urls()
    preferences = urls.preferences(message_id) if "preferences_url" in source else ""
    return {**(shared or shared_send_values()), "email": to_address, "preferences_url": preferences}


def shared_send_values() -> dict[str, Any]:
    """The send tokens that are the same for every message of a batch (the postal
    address, today's date), read once a batch."""
    address = current_app.config.get("EMAIL_POSTAL_ADDRESS") or ""
    return email_footer.send_values(email="", preferences_url="", postal_address=address)


# A campaign's template prepared once: CSS inlined, footer, pixel and links put in the
# source as our own tokens, the text part derived from it. Per recipient, Jinja's sandbox
# renders the values of the body's tokens alone; the HTML and the text part are their
# literal text with those values put in. Templates whose output may change shape per
# recipient are rendered per recipient instead (render_for).
_OWN = "dc_send_"
_OPEN, _PREFERENCES, _CLICK = f"{_OWN}open", f"{_OWN}preferences", f"{_OWN}click_"
_HREF_WITH_TOKEN = re.compile(r"""\bhref\s*=\s*(["'])([^"']*\{[{%#][^"']*)\1""", re.IGNORECASE)
_UNSUBSCRIBE_TOKEN = re.compile(r"\{\{\s*unsubscribe_url\s*\}\}")
_TAG = re.compile(r"<[^<>]*>")
_OWN_TOKEN = re.compile(r"\{\{\s*(unsubscribe_url|dc_send_\w+)\s*\}\}")
_TOKEN = re.compile(r"(\{\{.*?\}\})", re.DOTALL)
#: Between two values in the render of a body's tokens: an escaped value cannot hold it.
_SEPARATOR = "<"


@dataclass(frozen=True)
class PreparedTemplate:
    html: str  # Jinja source of the whole body (autoescaped)
    values: str  # Jinja source of the body's template tokens, ``_SEPARATOR`` between them
    #: per token of the body: the name of the value we fill ourselves (a URL we signed:
    #: ``{{ unsubscribe_url }}`` and our own tokens), put in escaped without Jinja; None
    #: for a token of the template's, rendered by Jinja (``values``)
    own: tuple[str | None, ...]
    html_literals: tuple[str, ...]  # the body's text around its tokens (one more)
    text_literals: tuple[str, ...]  # the text part's text around its tokens (one more)
    text_values: tuple[int, ...]  # which token's value each gap of the text part shows
    links: tuple[str, ...]  # the URL behind each click token, in order
    footer: bool  # the footer (with the preferences link) was added


def prepare_template(source: str, public_base: str) -> PreparedTemplate | None:
    """The campaign body prepared once, or None when it must be rendered per recipient:
    blocks or comments (the output's shape may vary), links built from tokens, or a
    token inside a tag, where escaping alone could not keep a value from choosing what
    the tag does (render_for sanitises each rendered message instead)."""
    has_address = bool(current_app.config.get("EMAIL_POSTAL_ADDRESS"))
    return _prepare_template(source, public_base, has_address)


@lru_cache(maxsize=16)
def _prepare_template(source: str, public_base: str, has_address: bool) -> PreparedTemplate | None:
    tokens = rendering.template_tokens(source)
    if not source or any(not t.startswith("{{") or _OWN in t for t in tokens):
        return None
    for _quote, url in _HREF_WITH_TOKEN.findall(source):
        if not _UNSUBSCRIBE_TOKEN.fullmatch(url.strip()):
            return None
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
    footer, address = email_footer.needs(source)
    extra = email_footer.footer_html(
        "{{ unsubscribe_url }}" if footer else None,
        f"{{{{ {_PREFERENCES} }}}}" if footer else None,
        "{{ postal_address }}" if address and has_address else None,
    )
    body = email_footer.place(body, extra + email_footer.pixel_html(f"{{{{ {_OPEN} }}}}"))
    own = public_base.rstrip("/") + "/email/"
    urls: list[str] = []

    def swap(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(3))
        if url.startswith(own):
            return match.group(0)
        urls.append(url)
        token = f"{{{{ {_CLICK}{len(urls) - 1} }}}}"
        return f"{match.group(1)}{match.group(2)}{token}{match.group(2)}"

    body = tracking.HREF.sub(swap, body)
    for tag in _TAG.findall(body):
        if "{" in _OWN_TOKEN.sub("", tag):
            return None
    text = rendering.html_to_text(body)
    html_split, text_split = _TOKEN.split(body), _TOKEN.split(text)
    body_tokens, text_tokens = html_split[1::2], text_split[1::2]
    text_values = tuple(i for i, t in enumerate(body_tokens) if _OPEN not in t)
    if text_tokens != [body_tokens[i] for i in text_values]:
        return None
    # The body's text as Jinja outputs it: newlines made "\n", a last one dropped.
    literals = [_NEWLINES.sub("\n", t) for t in html_split[::2]]
    if literals[-1].endswith("\n"):
        literals[-1] = literals[-1][:-1]
    own_names = tuple(_own_name(token) for token in body_tokens)
    theirs = [t for t, name in zip(body_tokens, own_names, strict=True) if not name]
    prepared = PreparedTemplate(
        html=body,
        values=_SEPARATOR.join(theirs),
        own=own_names,
        html_literals=tuple(literals),
        text_literals=tuple(text_split[::2]),
        text_values=text_values,
        links=tuple(urls),
        footer=footer,
    )
    return prepared if _renders_as_whole(prepared) else None


_NEWLINES = re.compile(r"\r\n|\r")


def _own_name(token: str) -> str | None:
    """The name of a token we fill ourselves (written plainly), else None."""
    match = _OWN_TOKEN.fullmatch(token)
    return match.group(1) if match else None


def _renders_as_whole(prepared: PreparedTemplate) -> bool:
    """Whether the body's text with its tokens' values put in is what Jinja renders of
    the whole body (checked once with sample values; a token written in a way the split
    at ``}}`` misreads, or whitespace control, fail it)."""
    if any("}}" in literal for literal in prepared.html_literals):
        return False
    try:
        names = rendering.undeclared_tokens(prepared.html, html=True)
        sample = {name: f"v{number}" for number, name in enumerate(sorted(names))}
        whole = sandbox.render_bounded(rendering.compiled(prepared.html, True), sample)
        values = _token_values(prepared, sample)
    except Exception:
        return False
    return values is not None and "".join(_interleaved(prepared.html_literals, values)) == whole


def _token_values(prepared: PreparedTemplate, values: dict[str, Any]) -> list[str] | None:
    """The body's token values for one recipient, escaped as in the body (our own as Jinja
    would escape them); None when one holds markup (a filter such as ``urlize`` made some)."""
    rendered: list[str] = []
    if prepared.values:
        compiled = rendering.compiled(prepared.values, True)
        rendered = sandbox.render_bounded(compiled, values).split(_SEPARATOR)
    if len(rendered) != prepared.own.count(None):
        return None
    theirs = iter(rendered)
    return [str(escape(values[name])) if name else next(theirs) for name in prepared.own]


def _interleaved(literals: Sequence[str], values: Sequence[str]) -> tuple[str, ...]:
    """``literals[0], values[0], literals[1], ...``: one more literal than values."""
    pieces = [literals[0]]
    for value, text in zip(values, literals[1:], strict=True):
        pieces += (value, text)
    return tuple(pieces)


def render_prepared(
    message_id: int,
    subject: str,
    prepared: PreparedTemplate,
    context: dict[str, Any],
    link_numbers: Sequence[int],
    unsubscribe: str | None = None,
    urls: tracking.Urls | None = None,
) -> tuple[rendering.RenderedEmail, tuple[tuple[str, ...], tuple[str, ...]] | None]:
    """A campaign message from its prepared template (``link_numbers``: the campaign's
    stored number of each of its links); also its bodies as literal text and values (the
    ``parts`` hint of :class:`OutgoingEmail`), or None when they are not its bodies."""
    urls = urls or tracking.Urls()
    token = urls.token(message_id)
    values = {
        **rendering.present_values(context),
        "unsubscribe_url": unsubscribe or urls.unsubscribe(message_id),
        _OPEN: urls.pixel(token),
    }
    if prepared.footer:
        values[_PREFERENCES] = context.get("preferences_url") or urls.preferences(message_id)
    for index, number in enumerate(link_numbers):
        values[f"{_CLICK}{index}"] = urls.link(token, number)
    if "{" in subject:  # a subject without tokens is the same for everyone
        subject = rendering.render(subject, context, html=False)
    out_subject = " ".join(subject.split())
    escaped = _token_values(prepared, values)
    if escaped is None:  # a value holds markup: the whole body, through the sanitiser
        html = rendering.render(prepared.html, values, html=True)
        rendered = rendering.RenderedEmail(
            out_subject, html, rendering.html_to_text(html), prepared.links
        )
        return rendered, None
    html_parts = _interleaved(prepared.html_literals, escaped)
    shown = [html_lib.unescape(escaped[i]) for i in prepared.text_values]
    text_parts = _interleaved(prepared.text_literals, shown)
    html, text = "".join(html_parts), "".join(text_parts)
    parts: tuple[tuple[str, ...], tuple[str, ...]] | None = (html_parts, text_parts)
    # The text part's literal text is tidy; a value with loose whitespace, or an empty
    # one, may not leave it so.
    if not all(value and " ".join(value.split()) == value for value in shown):
        tidy = rendering.tidy_text(text)
        if tidy != text:
            text, parts = tidy, None
    rendered = rendering.RenderedEmail(out_subject, html, text, prepared.links)
    return rendered, parts


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
    parts: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    envelope: Envelope | None = None,
) -> OutgoingEmail:
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
        parts=parts,
    )


@lru_cache(maxsize=8)
def _sender(value: str) -> tuple[str, str]:
    return parseaddr(value)


def _campaign_parts(rows: Sequence[OutboxRow]) -> dict[int, Any]:
    """What sending reads of the rows' campaigns (id, subject, html, created_by_id, and
    an A/B test's variants)."""
    ids = {r.campaign_id for r in rows if r.campaign_id is not None}
    if not ids:
        return {}
    parts = select(
        Campaign.id, Campaign.subject, Campaign.html, Campaign.created_by_id, Campaign.ab_test
    )
    return {c.id: c for c in db.session.execute(parts.where(Campaign.id.in_(ids)))}


def renders_at_send(row: Any) -> bool:
    """Whether the row's body is rendered when it goes: a campaign's, or a flow's that
    keeps no body (a flow row queued before flows rendered at send time keeps its own)."""
    return row.campaign_id is not None or (
        getattr(row, "flow_run_id", None) is not None and row.html is None
    )


def _flow_templates(rows: Sequence[Any]) -> dict[int, Any]:
    """The (id, subject, html) of the templates of the batch's flow rows."""
    ids = {r.template_id for r in rows if r.campaign_id is None and renders_at_send(r)}
    ids.discard(None)
    if not ids:
        return {}
    query = select(Template.id, Template.subject, Template.html).where(Template.id.in_(ids))
    return {t.id: t for t in db.session.execute(query)}


def _render_flow_row(
    row: Any,
    template: Any,
    context: dict[str, Any],
    unsubscribe: str,
    public_base: str,
    urls: tracking.Urls,
    shared: dict[str, Any],
) -> tuple[rendering.RenderedEmail, Any]:
    """A flow's message from its template, its links numbered 0..n for itself."""
    if template is None:
        raise LookupError("its template is gone")
    subject, html = template.subject or "", template.html or ""
    context = {**context, **send_values(row.id, row.to_address, html, urls, shared)}
    prepared = prepare_template(html, public_base)
    if prepared is None:
        return render_for(row, subject, html, context, unsubscribe), None
    numbers = range(len(prepared.links))
    return render_prepared(row.id, subject, prepared, context, numbers, unsubscribe, urls)


def build_messages(
    rows: Sequence[Any],
    campaigns: dict[int, Any],
    contexts: dict[int, dict[str, Any]],
) -> tuple[list[OutgoingEmail | None], dict[int, ProviderError]]:
    """A batch's messages, in row order: campaign and flow rows rendered for their
    customer, single sends as they were rendered at request time. A row that cannot be
    built gets None and its error under its index. Each row rendered here keeps its
    rendering in ``_rendered`` (for its activity), a flow row its subject too. The links
    of rows rendered with their own numbers are stored (not committed)."""
    messages: list[OutgoingEmail | None] = []
    problems: dict[int, ProviderError] = {}
    public_base = current_app.config["PUBLIC_BASE_URL"]
    envelope = Envelope.from_config()
    urls, shared = tracking.Urls(), shared_send_values()
    # each (campaign, variant)'s template prepared, and its links' numbers, once a batch
    templates: dict[tuple[int, int | None], tuple[PreparedTemplate | None, list[int]]] = {}
    own_links: dict[int, tuple[str, ...]] = {}
    flow_templates = _flow_templates(rows)
    for index, row in enumerate(rows):
        try:
            parts = None
            unsubscribe = urls.unsubscribe(row.id)
            sender = envelope
            if row.campaign_id is None and renders_at_send(row):
                template = flow_templates.get(row.template_id)
                context = contexts.get(row.customer_id) or {}
                rendered, parts = _render_flow_row(
                    row, template, context, unsubscribe, public_base, urls, shared
                )
                own_links[row.id] = tuple(rendered.links)
                row._rendered = rendered
                row.subject = rendered.subject[:300]
            elif row.campaign_id is not None:
                campaign = campaigns[row.campaign_id]
                variant = getattr(row, "variant", None)
                subject, html, from_name = ab_tests.variant_message(
                    campaign.ab_test, variant, campaign.subject or "", campaign.html or ""
                )
                if from_name:
                    sender = replace(envelope, from_name=from_name)
                context = {
                    **(contexts.get(row.customer_id) or {}),
                    **send_values(row.id, row.to_address, html, urls, shared),
                }
                key = (campaign.id, variant)
                if key not in templates:
                    prepared = prepare_template(html, public_base)
                    numbers = (
                        links.campaign_numbers(campaign.id, prepared.links) if prepared else []
                    )
                    templates[key] = (prepared, numbers)
                prepared, numbers = templates[key]
                if prepared is not None:
                    rendered, parts = render_prepared(
                        row.id, subject, prepared, context, numbers, unsubscribe, urls
                    )
                else:
                    rendered = render_for(row, subject, html, context, unsubscribe)
                    own_links[row.id] = tuple(
                        links.campaign_destinations(campaign.id, rendered.links)
                    )
                row._rendered = rendered  # for the activity, not stored on the row
            else:
                rendered = rendering.RenderedEmail(
                    row.subject or "", row.html or "", row.text or ""
                )
            messages.append(outgoing(row, rendered, None, unsubscribe, parts, sender))
        except Exception as exc:  # a template the sandbox refuses now, a bad header...
            problems[index] = PermanentError(f"cannot build message: {exc}", code="render")
            messages.append(None)
    links.store_message_links(own_links)
    return messages, problems


def send(p: Any, rows: Sequence[OutboxRow]) -> list[Any]:
    """Render (campaign rows), store their links, hand the batch to the provider: one
    outcome per row (a provider message id or an error)."""
    campaigns = _campaign_parts(rows)
    customer_ids = {r.customer_id for r in rows if r.customer_id and renders_at_send(r)}
    messages, problems = build_messages(rows, campaigns, customer_contexts(customer_ids))
    db.session.commit()  # the links stored before the mail that carries them goes
    ready = [m for m in messages if m is not None]
    console = getattr(p, "name", None) == "console"
    token = _console_rows.set({r.public_id: r for r in rows} if console else None)
    try:
        results = p.send_batch(ready) if ready else []
    except PermanentError as exc:  # the request as a whole was refused: every row's outcome
        results = [_whole_batch(exc, len(ready))] * len(ready)
    finally:
        _console_rows.reset(token)
    outcomes: list[Any] = []
    answers = iter(results)
    for index in range(len(messages)):
        if index in problems:
            outcomes.append(problems[index])
            continue
        result = next(answers)
        if isinstance(result, SendResult) and result.provider is None:
            result = result.provider_message_id  # a routed result (failover) keeps its provider
        outcomes.append(result)
    return outcomes


def _whole_batch(error: PermanentError, size: int) -> PermanentError:
    """A refusal of a whole request, as the outcome of each of its ``size`` messages: one
    that would suppress an address cannot say whose when the request held several."""
    if not error.suppress or size <= 1:
        return error
    return PermanentError(error.message, code=error.code, provider=error.provider)


# --- after the send ------------------------------------------------------------------------


def after_send(rows: Sequence[OutboxRow]) -> None:
    """Timeline entries for the rows that went, in one executemany INSERT.

    Each activity's public id is its message's with the activity prefix, so one UPDATE
    links the batch's messages to their activities (:func:`sent_values`)."""
    _announce_sent(rows)
    sent = [r for r in rows if r.status == "sent" and r.customer_id and r.activity_id is None]
    if not sent:
        return
    # A campaign row's user is its campaign's author (written there by materialize).
    activities = []
    for row in sent:
        rendered = getattr(row, "_rendered", None)
        activities.append(
            {
                "public_id": activity_public_id(row.public_id),
                "customer_id": row.customer_id,
                "user_id": row.user_id,
                "type": "Email Campaign" if row.campaign_id is not None else "Email",
                "direction": "sent",
                "subject": rendered.subject if rendered else row.subject,
                "body": rendered.text if rendered else row.text,
                "occurred_at": row.sent_at or utcnow(),
            }
        )
    db.session.execute(insert(Activity.__table__), activities)


def _announce_sent(rows: Sequence[OutboxRow]) -> None:
    """``message_sent`` for each row that went (inside the batch's transaction)."""
    if not message_sent.receivers:
        return
    app = app_object()
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
        ),
    )
