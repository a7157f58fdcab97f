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
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import signing
from app.models_base import utcnow
from app.signals import message_event
from blueprints.email.models import EmailEvent, EmailMessage

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def open_url(message_id: int) -> str:
    return pixel_url(tracking_token(message_id))


def unsubscribe_url(message_id: int) -> str:
    return signing.public_url(f"/email/unsubscribe/{signing.sign('unsubscribe', message_id)}")


def preferences_url(message_id: int) -> str:
    return signing.public_url(f"/email/preferences/{signing.sign('preferences', message_id)}")


def tracking_token(message_id: int) -> str:
    """The token of a message's open pixel and of its links."""
    return signing.sign("open", message_id)


def pixel_url(token: str) -> str:
    """The open pixel of the message whose tracking token is ``token``."""
    return signing.public_url(f"/email/t/o/{token}.gif")


def link_url(token: str, number: int) -> str:
    """The click URL of link ``number`` of the message whose tracking token is ``token``."""
    return signing.public_url(f"/email/t/c/{token}/{number}")


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
    body: str, token: str, message_id: int, has_unsubscribe_link: bool, unsubscribe: str
) -> str:
    """A visible unsubscribe/preferences footer (unless the template has one) and the
    pixel (``token``: the message's tracking token)."""
    extra = ""
    if not has_unsubscribe_link:
        extra += footer_html(unsubscribe, preferences_url(message_id))
    extra += pixel_html(pixel_url(token))
    return insert_before_body_end(body, extra)


def footer_html(unsubscribe: str, preferences: str) -> str:
    return (
        '<p style="font-size:12px;color:#777">'
        f'<a href="{unsubscribe}">Unsubscribe</a> · '
        f'<a href="{preferences}">Email preferences</a></p>'
    )


def pixel_html(url: str) -> str:
    return f'<img src="{url}" width="1" height="1" alt="">'


def insert_before_body_end(body: str, extra: str) -> str:
    marker = body.lower().rfind("</body>")
    if marker == -1:
        return body + extra
    return body[:marker] + extra + body[marker:]


def message_from_token(purpose: str, token: str) -> tuple[EmailMessage | None, Any]:
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
    return db.session.get(EmailMessage, message_id), payload


def record_engagement(
    message: EmailMessage,
    kind: str,
    *,
    at: datetime | None = None,
    url: str | None = None,
    source: str = "tracking",
) -> None:
    """Count an open or click (total + first/last), keep an event, note it on the activity."""
    at = at or utcnow()
    if kind == "open":
        message.open_count = (message.open_count or 0) + 1
        message.first_opened_at = message.first_opened_at or at
        message.last_opened_at = at
    elif kind == "click":
        message.click_count = (message.click_count or 0) + 1
        message.first_clicked_at = message.first_clicked_at or at
        message.last_clicked_at = at
        if not message.open_count:  # a click proves an open the pixel missed
            message.open_count = 1
            message.first_opened_at = message.last_opened_at = at
            add_event(message, "open", at=at, source=source)  # counted, so charted too
    add_event(message, kind, at=at, url=url, source=source)
    _note_activity(message)
    db.session.commit()
    message_event.send(
        current_app._get_current_object(),
        channel="email",
        message_id=message.public_id,
        event=kind,
        data={"url": url, "source": source, "customerId": message.customer_id},
    )


def add_event(
    message: EmailMessage,
    kind: str,
    *,
    at: datetime | None = None,
    url: str | None = None,
    source: str = "tracking",
) -> None:
    db.session.add(
        EmailEvent(
            message_id=message.id,
            campaign_id=message.campaign_id,
            type=kind[:16],
            occurred_at=at or utcnow(),
            url=url[:2000] if url else None,
            source=source[:20],
        )
    )


def _note_activity(message: EmailMessage) -> None:
    if message.activity_id is None:
        return
    activity = db.session.get(Activity, message.activity_id)
    if activity is None:
        return
    parts = []
    if message.open_count:
        parts.append(
            f"Opened {message.open_count}× (first {message.first_opened_at:%Y-%m-%d %H:%M} UTC)"
        )
    if message.click_count:
        parts.append(
            f"clicked {message.click_count}× (last {message.last_clicked_at:%Y-%m-%d %H:%M} UTC)"
        )
    activity.notes = ", ".join(parts) or None


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
