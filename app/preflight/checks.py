"""Pre-flight: what a careful designer checks before an email goes out.

Run on a template (or a campaign's content) rendered for one customer, and against an
audience when one is chosen. Each check yields findings a person can act on:

* ``unsubscribe``: the design has no unsubscribe link of its own (Decant then adds its
  footer, which may not fit the design);
* ``alt``: images without an ``alt`` attribute (screen readers, and clients that block
  images by default, show nothing in their place);
* ``size``: the HTML part over Gmail's 102 KB clipping limit (Gmail hides the rest,
  unsubscribe link and open pixel included, behind "View entire message");
* ``links``: links that answer an error, checked from the server: http/https only, at
  most :data:`MAX_LINKS` of them, each bounded in time, never on a private network
  (:mod:`app.netguard`), redirects followed by hand so each hop is checked;
* ``tokens``: tokens with no value for part of the audience (they get a fallback);
* ``spam``: SpamAssassin's score and the rules hit, local rules only (no network tests),
  where SpamAssassin is installed.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
from flask import current_app
from jinja2 import nodes
from sqlalchemy import ColumnElement, Select, func, or_, select

from app import netguard
from app.crm.models import Customer
from app.extensions import db
from app.messaging import rendering, sandbox

#: Gmail clips a message whose HTML is over 102 KB (102 × 1024 bytes).
GMAIL_CLIP_BYTES = 102 * 1024
MAX_LINKS = 25
LINK_TIMEOUT = 5.0
LINKS_BUDGET = 20.0
MAX_REDIRECTS = 5
SPAM_TIMEOUT = 60.0

Level = Literal["error", "warning", "info"]


@dataclass
class Finding:
    check: str
    level: Level
    message: str
    items: list[str] = field(default_factory=list)


@dataclass
class SpamScore:
    available: bool
    score: float | None = None
    required: float | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


@dataclass
class Report:
    size_bytes: int
    findings: list[Finding]
    spam: SpamScore
    links_checked: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "sizeBytes": self.size_bytes,
            "linksChecked": self.links_checked,
            "findings": [asdict(f) for f in self.findings],
            "spam": asdict(self.spam),
            "ok": not any(f.level == "error" for f in self.findings),
        }


# --- what the HTML holds ---------------------------------------------------------------


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images_without_alt: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and "alt" not in values:
            self.images_without_alt.append(values.get("src") or "(no src)")
        if tag == "a" and values.get("href"):
            self.links.append((values["href"] or "").strip())


def _parts(html: str) -> _Parts:
    parser = _Parts()
    parser.feed(html)
    parser.close()
    return parser


def _unsubscribe_finding(html_source: str) -> Finding | None:
    if "unsubscribe_url" in (html_source or ""):
        return None
    return Finding(
        "unsubscribe",
        "warning",
        "The design has no unsubscribe link: Decant adds its own footer at the end. "
        "Place {{ unsubscribe_url }} in the design to choose where it goes.",
    )


def _alt_finding(parts: _Parts) -> Finding | None:
    if not parts.images_without_alt:
        return None
    count = len(parts.images_without_alt)
    return Finding(
        "alt",
        "warning",
        f"{count} image{'s' if count != 1 else ''} without alt text "
        '(use alt="" for decorative ones)',
        parts.images_without_alt[:20],
    )


def _size_finding(size: int) -> Finding | None:
    if size <= GMAIL_CLIP_BYTES:
        return None
    return Finding(
        "size",
        "error",
        f"The HTML is {size / 1024:.0f} KB: Gmail clips messages over 102 KB, hiding the "
        "rest of the email, the unsubscribe link and the open pixel",
    )


# --- links -----------------------------------------------------------------------------


def _link_problem(url: str, session: requests.Session, allow_private: bool) -> str | None:
    """Why ``url`` does not answer well, or None: each redirect hop checked again."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            netguard.require_public(current, allow_private=allow_private)
        except netguard.PrivateAddress as exc:
            return f"not checked: {exc}"
        try:
            response = session.head(current, allow_redirects=False, timeout=LINK_TIMEOUT)
            if response.status_code in (405, 501):  # HEAD not supported: ask for the page
                response = session.get(
                    current, allow_redirects=False, timeout=LINK_TIMEOUT, stream=True
                )
                response.close()
        except requests.RequestException as exc:
            return f"no answer ({type(exc).__name__})"
        if response.is_redirect and response.headers.get("Location"):
            current = urljoin(current, response.headers["Location"])
            continue
        if response.status_code >= 400:
            return f"answers {response.status_code}"
        return None
    return f"more than {MAX_REDIRECTS} redirects"


def checkable_links(hrefs: Iterable[str]) -> list[str]:
    """The distinct http(s) links of a rendered email, in order, at most MAX_LINKS; Decant's
    own links (unsubscribe, preferences) are not the design's to check."""
    own = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + "/"
    seen: list[str] = []
    for href in hrefs:
        if href.startswith(own):
            continue
        if urlsplit(href).scheme in ("http", "https") and href not in seen:
            seen.append(href)
    return seen[:MAX_LINKS]


def _links_finding(links: list[str]) -> Finding | None:
    allow_private = bool(current_app.config.get("FETCH_PRIVATE_ADDRESSES"))
    broken: list[str] = []
    deadline = time.monotonic() + LINKS_BUDGET
    with requests.Session() as session:
        session.headers["User-Agent"] = "Decant pre-flight link check"
        for url in links:
            if time.monotonic() > deadline:
                broken.append(f"{url}: not checked (time budget spent)")
                continue
            problem = _link_problem(url, session, allow_private)
            if problem:
                broken.append(f"{url}: {problem}")
    if not broken:
        return None
    return Finding(
        "links", "warning", f"{len(broken)} link(s) did not answer well", broken[:MAX_LINKS]
    )


# --- tokens against an audience --------------------------------------------------------

#: token -> how a customer row lacks its value
_EMPTY_WHEN: dict[str, Callable[[], ColumnElement[bool]]] = {
    "customer_name": lambda: or_(Customer.name.is_(None), Customer.name == ""),
    "last_order_date": lambda: Customer.last_order_date.is_(None),
    "territory": lambda: Customer.territory_id.is_(None),
    "rep_name": lambda: Customer.rep_id.is_(None),
}


def tokens_with_own_fallback(source: str) -> set[str]:
    """Tokens the template gives a ``|default(...)`` of its own wherever it uses them."""
    env = sandbox.BoundedSandbox()
    try:
        tree = env.parse(source or "")
    except Exception:  # noqa: BLE001 - the save path reports syntax errors
        return set()
    defaulted: set[str] = set()
    inside_default: set[int] = set()
    for node in tree.find_all(nodes.Filter):
        if node.name == "default" and isinstance(node.node, nodes.Name):
            defaulted.add(node.node.name)
            inside_default.add(id(node.node))
    bare = {n.name for n in tree.find_all(nodes.Name) if id(n) not in inside_default}
    return defaulted - bare


def _tokens_finding(subject: str, html_source: str, audience: Select[Any]) -> Finding | None:
    used: set[str] = set()
    own_fallback: set[str] = set()
    for source in (subject, html_source):
        used |= rendering.undeclared_tokens(source or "", html=source is html_source)
        own_fallback |= tokens_with_own_fallback(source or "")
    used -= {"unsubscribe_url", "postal_address"} | own_fallback
    if not used:
        return None
    total = db.session.scalar(select(func.count()).select_from(audience.subquery())) or 0
    if not total:
        return None
    gaps: list[str] = []
    for token in sorted(used):
        empty = _EMPTY_WHEN.get(token)
        if empty is not None:
            condition = empty()
        else:  # a custom field
            value = Customer.custom_fields[token].as_string()
            condition = or_(value.is_(None), value == "")
        missing = db.session.scalar(
            select(func.count()).where(Customer.id.in_(audience), condition)
        )
        if missing:
            fallback = rendering.FALLBACKS.get(token, "")
            shown = f'"{fallback}"' if fallback else "nothing"
            gaps.append(
                f"{{{{ {token} }}}}: no value for {missing:,} of {total:,} (they see {shown})"
            )
    if not gaps:
        return None
    return Finding("tokens", "warning", "Some recipients have no value for a token", gaps)


# --- spam score ------------------------------------------------------------------------

_STATUS = re.compile(r"score=(-?[\d.]+)\s+required=(-?[\d.]+)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


def raw_message(subject: str, html: str, text: str, to: str) -> bytes:
    message = EmailMessage()
    message["From"] = current_app.config.get("FROM_EMAIL") or "marketing@example.com"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="decant.invalid")
    message.set_content(text or " ")
    message.add_alternative(html, subtype="html")
    return message.as_bytes()


def parse_spamassassin(output: str) -> SpamScore:
    """SpamAssassin's ``-t`` output: the X-Spam-Status score and the rules table."""
    status = _STATUS.search(output)
    if not status:
        return SpamScore(available=True, note="SpamAssassin gave no score")
    rules: list[dict[str, Any]] = []
    in_table = False
    for line in output.splitlines():
        if line.strip().startswith("pts rule name"):
            in_table = True
            continue
        if not in_table or line.startswith("----"):
            continue
        if not line.strip():
            if rules:
                break
            continue
        match = _RULE.match(line)
        if match:
            rules.append(
                {"points": float(match[1]), "rule": match[2], "description": match[3].strip()}
            )
        elif rules:  # a wrapped description
            rules[-1]["description"] += " " + line.strip()
    return SpamScore(True, float(status[1]), float(status[2]), rules)


def spam_score(raw: bytes) -> SpamScore:
    command = (current_app.config.get("SPAMASSASSIN_COMMAND") or "").split()
    if not command:
        return SpamScore(available=False, note="the spam check is turned off")
    try:
        done = subprocess.run(  # noqa: S603 - a configured command, no shell
            [*command, "-L", "-t"],
            input=raw,
            capture_output=True,
            timeout=SPAM_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return SpamScore(available=False, note="SpamAssassin is not installed on the server")
    except subprocess.TimeoutExpired:
        return SpamScore(available=False, note="SpamAssassin did not answer in time")
    return parse_spamassassin(done.stdout.decode("utf-8", "replace"))


# --- the whole report ------------------------------------------------------------------


def run(
    *,
    subject_source: str,
    html_source: str,
    rendered_subject: str,
    rendered_html: str,
    rendered_text: str,
    to: str,
    audience: Select[Any] | None = None,
    check_links: bool = True,
) -> Report:
    """Every check on one rendering (and the audience, when given)."""
    size = len(rendered_html.encode("utf-8"))
    parts = _parts(rendered_html)
    links = checkable_links(parts.links)
    found = [
        _unsubscribe_finding(html_source),
        _alt_finding(parts),
        _size_finding(size),
        _links_finding(links) if check_links and links else None,
        _tokens_finding(subject_source, html_source, audience) if audience is not None else None,
    ]
    spam = spam_score(raw_message(rendered_subject, rendered_html, rendered_text, to))
    return Report(
        size_bytes=size,
        findings=[f for f in found if f is not None],
        spam=spam,
        links_checked=len(links) if check_links else 0,
    )
