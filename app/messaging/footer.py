"""Decant's compliance footer and open pixel, placed where they fit the design.

The footer (unsubscribe and preferences links, the sender's postal address that CAN-SPAM
asks for: the ``EMAIL_POSTAL_ADDRESS`` setting) and the pixel go at the end of the body's
last content cell, so they sit inside the template's container and inherit its font and
colour instead of hanging below it in the browser's default serif. A template that places
``{{ unsubscribe_url }}`` and ``{{ postal_address }}`` itself gets no footer (or only the
part it lacks). Values tokens fill at send time are :data:`SEND_TOKENS`.
"""

from __future__ import annotations

import html as html_lib
from datetime import date
from typing import Any

from justhtml import JustHTML

from app.messaging import email_html

#: Tokens an email template may use besides the customer's, filled when it is sent.
SEND_TOKENS = frozenset({"email", "preferences_url", "postal_address", "today"})
_CELLS = frozenset({"td", "th", "div", "center", "section", "article", "main", "footer"})
_TABLE_PARTS = frozenset({"table", "tbody", "thead", "tfoot", "tr"})


def send_values(
    *, email: str, preferences_url: str, postal_address: str | None, today: date | None = None
) -> dict[str, Any]:
    """The :data:`SEND_TOKENS` of one message."""
    return {
        "email": email,
        "preferences_url": preferences_url,
        "postal_address": postal_address or "",
        "today": (today or date.today()).isoformat(),
    }


def needs(source: str) -> tuple[bool, bool]:
    """Whether the footer must add the unsubscribe links and the postal address (those the
    template does not place itself)."""
    return "unsubscribe_url" not in source, "postal_address" not in source


def footer_html(unsubscribe: str | None, preferences: str | None, address: str | None) -> str:
    """The footer's HTML: the links when ``unsubscribe`` is given, the address when given
    (each already a URL or a token); empty when neither. No font: it inherits the cell's."""
    lines = []
    if unsubscribe:
        links = f'<a href="{html_lib.escape(unsubscribe)}">Unsubscribe</a>'
        if preferences:
            links += f' · <a href="{html_lib.escape(preferences)}">Email preferences</a>'
        lines.append(links)
    if address:
        lines.append(f'<span class="decant-postal-address">{address}</span>')
    if not lines:
        return ""
    return (
        '<p class="decant-footer" style="margin:16px 0 0;font-size:12px;line-height:18px;">'
        + "<br>".join(lines)
        + "</p>"
    )


def pixel_html(url: str) -> str:
    return (
        f'<img src="{html_lib.escape(url)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">'
    )


def place(body: str, addition: str) -> str:
    """``addition`` at the end of the body's last content cell of a whole document; at the
    end of the body of a fragment."""
    if not addition:
        return body
    if not email_html.is_document(body):
        return _before_body_end(body, addition)
    document = JustHTML(body, sanitize=False)
    target = last_cell(document)
    if target is None:
        return _before_body_end(body, addition)
    for node in list(JustHTML(addition, fragment=True, sanitize=False).root.children or ()):
        target.append_child(node)
    return email_html.serialise(document)


def last_cell(document: Any) -> Any | None:
    """The body's last visible content cell (a ``td``, ``div``...), descending through
    tables; the body when it holds no container; None without a body."""
    body = document.query_one("body")
    if body is None:
        return None
    current = body
    while True:
        children = [c for c in current.children or () if _visible_element(c)]
        if not children:
            break
        name = str(children[-1].name).lower()
        if name not in _CELLS | _TABLE_PARTS:
            break
        current = children[-1]
    if str(current.name).lower() in _TABLE_PARTS:
        return body
    return current


def _visible_element(node: Any) -> bool:
    name = str(node.name)
    if name.startswith("#") or name.lower() in ("script", "style", "img", "br"):
        return False
    style = "".join(((getattr(node, "attrs", None) or {}).get("style") or "").lower().split())
    return "display:none" not in style


def _before_body_end(body: str, extra: str) -> str:
    marker = body.lower().rfind("</body>")
    if marker == -1:
        return body + extra
    return body[:marker] + extra + body[marker:]
