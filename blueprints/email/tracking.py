"""Open pixels, click redirects and unsubscribe links: signed URLs and what they record.

A message's links carry its tracking token (the open pixel's, which signs the message
id) and the link's number (``/email/t/c/<token>/<n>``): the redirect goes to stored link
``n`` of that message or its campaign (:mod:`blueprints.email.links`), so it can only
reach a link that was in that message. Links of mail sent before links were numbered
carry a click token signing ``[message id, url]`` (``/email/t/c/<token>``), still
followed.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, request
from sqlalchemy import case, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.crm.models import Activity
from app.current import app_object
from app.extensions import db
from app.messaging import footer as email_footer
from app.messaging import machine_signals, signing
from app.models_base import utcnow
from app.signals import message_event
from blueprints.email import counters
from blueprints.email.models import EmailEvent, EmailMessage

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


class Urls:
    """A message's signed URLs, the settings they use read once: a campaign batch builds
    five or more per message."""

    def __init__(self) -> None:
        self.base = signing.public_url("")
        self.secret_key: str = current_app.config["SECRET_KEY"]

    def token(self, message_id: int) -> str:
        """The token of a message's open pixel and of its links."""
        return signing.sign("open", message_id, self.secret_key)

    def unsubscribe(self, message_id: int) -> str:
        token = signing.sign("unsubscribe", message_id, self.secret_key)
        return f"{self.base}/email/unsubscribe/{token}"

    def preferences(self, message_id: int) -> str:
        token = signing.sign("preferences", message_id, self.secret_key)
        return f"{self.base}/email/preferences/{token}"

    def pixel(self, token: str) -> str:
        """The open pixel of the message whose tracking token is ``token``."""
        return f"{self.base}/email/t/o/{token}.gif"

    def link(self, token: str, number: int) -> str:
        """The click URL of link ``number`` of the message whose tracking token is
        ``token``."""
        return f"{self.base}/email/t/c/{token}/{number}"


def open_url(message_id: int) -> str:
    return pixel_url(tracking_token(message_id))


def unsubscribe_url(message_id: int) -> str:
    return Urls().unsubscribe(message_id)


def preferences_url(message_id: int) -> str:
    return Urls().preferences(message_id)


def tracking_token(message_id: int) -> str:
    """The token of a message's open pixel and of its links."""
    return Urls().token(message_id)


def pixel_url(token: str) -> str:
    return Urls().pixel(token)


def link_url(token: str, number: int) -> str:
    return Urls().link(token, number)


def number_links(body: str, token: str) -> tuple[str, tuple[str, ...]]:
    """Point every http(s) link (our own links stay as they are) at the message's
    numbered click URL; the body and the URLs, in number order."""
    own = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/email/"
    links: list[str] = []

    def swap(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(3))
        if url.startswith(own):
            return match.group(0)
        links.append(url)
        return f"{match.group(1)}{match.group(2)}{link_url(token, len(links) - 1)}{match.group(2)}"

    return HREF.sub(swap, body), tuple(links)


def add_footer_and_pixel(
    body: str,
    token: str,
    message_id: int,
    has_unsubscribe_link: bool,
    unsubscribe: str,
    has_postal_address: bool = False,
) -> str:
    """The compliance footer (the parts the template does not place itself) and the pixel
    (``token``: the message's tracking token), inside the template's last content cell
    (:mod:`app.messaging.footer`)."""
    address = current_app.config.get("EMAIL_POSTAL_ADDRESS") or ""
    extra = email_footer.footer_html(
        None if has_unsubscribe_link else unsubscribe,
        None if has_unsubscribe_link else preferences_url(message_id),
        None if has_postal_address or not address else html_lib.escape(address),
    )
    return email_footer.place(body, extra + pixel_html(pixel_url(token)))


def footer_html(unsubscribe: str, preferences: str) -> str:
    return email_footer.footer_html(unsubscribe, preferences, None)


def pixel_html(url: str) -> str:
    return email_footer.pixel_html(url)


def insert_before_body_end(body: str, extra: str) -> str:
    marker = body.lower().rfind("</body>")
    if marker == -1:
        return body + extra
    return body[:marker] + extra + body[marker:]


def message_from_token(purpose: str, token: str) -> tuple[EmailMessage | None, Any]:
    message_id, payload = message_id_from_token(purpose, token)
    if message_id is None:
        return None, None
    return db.session.get(EmailMessage, message_id), payload


def message_id_from_token(purpose: str, token: str) -> tuple[int | None, Any]:
    """The message id a token signs (not looked up), and its payload."""
    payload = signing.unsign(purpose, token)
    if payload is None:
        return None, None
    if purpose == "click":  # exactly [message id, url]
        ok = isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], str)
        message_id = payload[0] if ok else None
    else:
        message_id = payload
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        return None, None
    if not 0 < message_id < 2**31:  # the id column is a 32-bit integer on PostgreSQL
        return None, None
    return message_id, payload


def record_engagement(
    message: EmailMessage | int,
    kind: str,
    *,
    at: datetime | None = None,
    url: str | None = None,
    source: str = "tracking",
    verdict: machine_signals.Verdict = machine_signals.HUMAN,
    locked: counters.Counters | None = None,
    durable: bool = True,
) -> bool:
    """Count an open or click (total + first/last, and apart the human ones), keep the
    event with its human/machine label, note it on the activity; False when there is no
    such message. ``message``: the message, or only its id (the pixel and the redirect
    load nothing else: they are the hot path after a big send); ``locked``: its counters,
    when the caller locked them already (:func:`lock_for_click`); ``durable=False``: the
    commit does not wait for the disk (the pixel and redirect: :data:`counters.NOT_DURABLE`).

    The counters are decided on the message's locked row (:mod:`blueprints.email.counters`),
    so an open and a click of the same message arriving together count one each."""
    at = at or utcnow()
    message_id = message if isinstance(message, int) else message.id
    if locked is None:
        opens = [message_id] if kind == "open" else []
        locked = counters.lock([message_id], opens=opens).get(message_id)
    if locked is None:
        return False
    counters.apply(locked, kind, at, verdict, source=source, url=url)
    counters.write([locked], durable=durable)
    values = locked.values
    if kind == "click" and verdict.reason == "burst":
        relabel_burst(message_id, at)
        if isinstance(message, EmailMessage):
            db.session.refresh(message)
    elif isinstance(message, EmailMessage):
        for name in counters.COUNTER_COLUMNS:
            set_committed_value(message, name, values[name])
    if values["activity_id"] is not None:
        notes = activity_notes(
            values["open_count"],
            values["first_opened_at"],
            values["click_count"],
            values["last_clicked_at"],
        )
        db.session.execute(
            update(Activity).where(Activity.id == values["activity_id"]).values(notes=notes)
        )
    db.session.commit()
    message_event.send(
        app_object(),
        channel="email",
        message_id=values["public_id"],
        event=kind,
        data={
            "url": url,
            "source": source,
            "customerId": values["customer_id"],
            "campaignId": values["campaign_id"],
            "human": verdict.human,
            "machineReason": verdict.reason,
        },
    )
    return True


def relabel_burst(message_id: int, at: datetime) -> None:
    """The clicks just before a burst was recognised were part of it: machine too."""
    window = timedelta(seconds=machine_signals.Rules.from_config(current_app.config).burst_seconds)
    earlier = db.session.scalars(
        select(EmailEvent.id).where(
            EmailEvent.message_id == message_id,
            EmailEvent.type == "click",
            EmailEvent.machine.is_(False),
            EmailEvent.occurred_at >= at - window,
        )
    ).all()
    if not earlier:
        return
    db.session.execute(
        update(EmailEvent)
        .where(EmailEvent.id.in_(earlier))
        .values(machine=True, machine_reason="burst")
    )
    m = EmailMessage
    db.session.execute(
        update(m)
        .where(m.id == message_id)
        .values(
            human_click_count=case(
                (m.human_click_count > len(earlier), m.human_click_count - len(earlier)), else_=0
            ),
            first_human_click_at=case(
                (m.human_click_count > len(earlier), m.first_human_click_at), else_=None
            ),
        )
    )


def request_verdict(
    kind: str, message: EmailMessage | None, url: str | None = None
) -> machine_signals.Verdict:
    """Human or machine, for an open pixel or click redirect being answered now."""
    rules = machine_signals.Rules.from_config(current_app.config)
    method, agent, ip = request.method, request.user_agent.string, request.remote_addr
    if kind == "open" or message is None:
        return machine_signals.classify_open(method=method, user_agent=agent, ip=ip, rules=rules)
    left, earlier = click_context(message)
    return machine_signals.classify_click(
        url=url or "",
        at=utcnow(),
        sent_at=left,
        earlier_clicks=earlier,
        method=method,
        user_agent=agent,
        ip=ip,
        rules=rules,
    )


def lock_for_click(message_id: int, number: int) -> counters.Counters | None:
    """The message's counters, locked, before its click on link ``number`` is resolved
    and judged (None: no such message): the redirect reads the campaign, the send time
    and the link's stored URL (``link_url``) with them instead of loading the message."""
    if not 0 <= number < 2**31:  # the number column is a 32-bit integer on PostgreSQL
        number = -1  # no such link
    return counters.lock([message_id], link=number).get(message_id)


def click_verdict(
    locked: counters.Counters,
    url: str,
    *,
    at: datetime | None = None,
    earlier: list[tuple[str, datetime]] | None = None,
) -> machine_signals.Verdict:
    """:func:`request_verdict` of a click at ``at`` (now) on a locked message; its
    ``earlier`` clicks (of the minute before: (url, at)) are read only when it has some
    and the caller did not read them."""
    at = at or utcnow()
    v = locked.values
    left = v["delivered_at"] or v["sent_at"]
    if earlier is None:
        earlier = _recent_clicks(locked.message_id, at)[1] if v["click_count"] else []
    return machine_signals.classify_click(
        url=url,
        at=at,
        sent_at=_aware(left) if left else None,
        earlier_clicks=earlier,
        method=request.method,
        user_agent=request.user_agent.string,
        ip=request.remote_addr,
        rules=machine_signals.Rules.from_config(current_app.config),
    )


def click_context(
    message: EmailMessage, at: datetime | None = None
) -> tuple[datetime | None, list[tuple[str, datetime]]]:
    """What the click rules need about a click at ``at`` (now): when the message left
    (delivered, else sent) and its clicks of the minute before, (url, at)."""
    left = message.delivered_at or message.sent_at
    return (_aware(left) if left else None), _recent_clicks(message.id, at or utcnow())[1]


def _recent_clicks(message_id: int, at: datetime) -> tuple[None, list[tuple[str, datetime]]]:
    rows = db.session.execute(
        select(EmailEvent.url, EmailEvent.occurred_at).where(
            EmailEvent.message_id == message_id,
            EmailEvent.type == "click",
            EmailEvent.occurred_at >= at - timedelta(minutes=1),
            EmailEvent.occurred_at <= at,
        )
    ).all()
    return None, [(url or "", _aware(when)) for url, when in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_event(
    message: EmailMessage,
    kind: str,
    *,
    at: datetime | None = None,
    url: str | None = None,
    source: str = "tracking",
    verdict: machine_signals.Verdict = machine_signals.HUMAN,
) -> None:
    db.session.add(
        EmailEvent(
            message_id=message.id,
            campaign_id=message.campaign_id,
            type=kind[:16],
            occurred_at=at or utcnow(),
            url=url[:2000] if url else None,
            source=source[:20],
            machine=not verdict.human,
            machine_reason=verdict.reason,
        )
    )


def activity_notes(
    opens: int, first_opened_at: datetime | None, clicks: int, last_clicked_at: datetime | None
) -> str | None:
    """What a message's activity says of its opens and clicks."""
    parts = []
    if opens and first_opened_at:
        parts.append(f"Opened {opens}× (first {first_opened_at:%Y-%m-%d %H:%M} UTC)")
    if clicks and last_clicked_at:
        parts.append(f"clicked {clicks}× (last {last_clicked_at:%Y-%m-%d %H:%M} UTC)")
    return ", ".join(parts) or None


def find_message(our_id: str | None, provider_id: str | None, email: str | None):
    """The message a provider event is about: our metadata id first, else provider id."""
    if our_id:
        found = db.session.scalar(select(EmailMessage).where(EmailMessage.public_id == our_id))
        if found is not None:
            return found
    if provider_id:
        stmt = select(EmailMessage).where(EmailMessage.provider_message_id == provider_id)
        if email:
            stmt = stmt.where(EmailMessage.to_address == email.strip().lower())
        return db.session.scalars(stmt.limit(1)).first()
    return None
