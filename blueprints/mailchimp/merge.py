"""Decant tokens as Mailchimp merge fields and merge tags.

Mailchimp fills ``*|TAG|*`` per recipient from the member's merge fields, and refuses a
member (or leaves a tag printed as is) when the audience lacks the field, so every field
Decant pushes or a campaign uses is created in the audience first
(:func:`ensure_merge_fields`). Custom fields are mapped by name: the merge field named
after the custom key (``wine_club`` -> ``*|WINE_CLUB|*``), its tag found or chosen once.

Decant's fallbacks become Mailchimp conditionals
(``*|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*``), and :func:`fill` renders a text with
merge tags the way Mailchimp does, for the activity of each recipient and (with
placeholders) for page titles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from app.messaging.rendering import FALLBACKS, render
from app.messaging.templates import custom_field_keys, token_names
from providers import mailchimp as mc

#: The merge fields of Decant's core tokens (``unsubscribe_url`` is Mailchimp's *|UNSUB|*).
CORE_FIELDS: dict[str, mc.MergeField] = {
    "customer_name": mc.MergeField("FNAME", "First Name", "text", ""),
    "territory": mc.MergeField("TERRITORY", "Territory", "text", FALLBACKS["territory"]),
    "rep_name": mc.MergeField("REP", "Rep", "text", FALLBACKS["rep_name"]),
    # text, not date: the ISO date Decant shows, whatever date format the audience uses
    "last_order_date": mc.MergeField("LASTORDER", "Last order date", "text", ""),
}
SYSTEM_TAGS = {
    "unsubscribe_url": "UNSUB",
    "email": "EMAIL",
    "preferences_url": "UPDATE_PROFILE",
    "postal_address": "LIST:ADDRESSLINE",
    "today": "MC:DATE",
}
#: Tags a custom field may not take (Mailchimp's own and Decant's core ones).
RESERVED_TAGS = frozenset(
    {"EMAIL", "UNSUB", "LIST", "ARCHIVE", "DATE", "UPDATE_PROFILE", "FORWARD", "LNAME"}
    | {f.tag for f in CORE_FIELDS.values()}
)
#: How a tag reads on a page when no recipient is in view.
PLACEHOLDERS = {
    "FNAME": "Customer name",
    "TERRITORY": "Territory",
    "REP": "Rep",
    "LASTORDER": "Last order date",
    "UNSUB": "Unsubscribe link",
}
MAX_TAG = 10
MAX_VALUE = 255  # a text merge field's longest value

_TAG = re.compile(r"\*\|([A-Z0-9_]+)\|\*")
_CONDITIONAL = re.compile(
    r"\*\|IF:([A-Z0-9_]+)\|\*(.*?)(?:\*\|ELSE:\|\*(.*?))?\*\|END:IF\|\*", re.DOTALL
)


def tag_for(key: str, taken: Iterable[str]) -> str:
    """A free merge tag for custom field ``key``: upper case, A-Z 0-9 _, at most 10."""
    taken = set(taken) | RESERVED_TAGS
    base = re.sub(r"[^A-Z0-9_]", "", key.upper())[:MAX_TAG] or "FIELD"
    if base[0].isdigit():
        base = ("F" + base)[:MAX_TAG]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base[: MAX_TAG - len(str(n))]}{n}"
    return candidate


def ensure_merge_fields(
    client: mc.MailchimpClient, audience_id: str, custom_keys: Iterable[str] = ()
) -> dict[str, str]:
    """Create the core fields and a field per custom key where the audience lacks them.

    Returns ``{token: tag}`` for the core tokens and the custom keys. An existing field is
    kept as it is (its name, type and default are the audience owner's business).
    """
    existing = client.merge_fields(audience_id)
    by_tag = {f.tag: f for f in existing}
    by_name = {f.name: f for f in existing}
    tags: dict[str, str] = dict(SYSTEM_TAGS)
    for token, spec in CORE_FIELDS.items():
        if spec.tag not in by_tag:
            by_tag[spec.tag] = client.add_merge_field(audience_id, spec)
        tags[token] = spec.tag
    for key in sorted(set(custom_keys) - set(CORE_FIELDS) - set(SYSTEM_TAGS)):
        found = by_name.get(key)
        if found is None:
            spec = mc.MergeField(tag_for(key, by_tag), key, "text", "")
            found = client.add_merge_field(audience_id, spec)
            by_tag[found.tag] = by_name[key] = found
        tags[key] = found.tag
    return tags


def customer_values(customer: Any) -> dict[str, Any]:
    """A customer's raw token values (no fallbacks: the campaign's conditionals hold them)."""
    values: dict[str, Any] = dict(customer.custom_fields or {})
    values.update(
        customer_name=customer.name,
        territory=customer.territory.name if customer.territory else None,
        rep_name=customer.rep.name if customer.rep else None,
        last_order_date=customer.last_order_date.isoformat() if customer.last_order_date else None,
    )
    return values


def defaults() -> dict[str, str]:
    """The default of each core field Decant creates (``*|TERRITORY|*`` -> "your area")."""
    return {f.tag: f.default_value for f in CORE_FIELDS.values() if f.default_value}


def member_values(context: dict[str, Any], tags: dict[str, str]) -> dict[str, str]:
    """``merge_fields`` of one member from its raw token values (blank when missing; text
    fields hold at most MAX_VALUE characters)."""
    values: dict[str, str] = {}
    for token, tag in tags.items():
        if token in SYSTEM_TAGS:
            continue
        value = context.get(token)
        values[tag] = "" if value is None else str(value)[:MAX_VALUE]
    return values


# --------------------------------------------------------------------------- content


def to_merge_tags(source: str | None, tags: dict[str, str], *, html: bool) -> str:
    """A Decant template with its tokens as merge tags, fallbacks as conditionals.

    Templates of text and tokens (almost all) are converted piece by piece, so
    ``{{customer_name|default("friend")}}`` keeps its own fallback; anything else
    (blocks, other filters) is rendered with each token standing for its tag.
    """
    if not source:
        return ""
    pieces = simple_pieces(source, html)
    if pieces is None:
        rendered = render(source, {t: f"*|{tag}|*" for t, tag in tags.items()}, html=html)
        return _URL_ENCODED_TAG.sub(_url_tag, rendered)
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, Token):
            out.append(_tag_text(piece, tags, html))
        else:
            out.append(piece)
    return "".join(out)


#: A tag that went through ``|urlencode`` (a token inside a link's query): Mailchimp's
#: ``*|URL:TAG|*`` encodes the value the same way.
_URL_ENCODED_TAG = re.compile(r"%2A%7C([A-Z0-9_]+)%7C%2A")


def _url_tag(match: re.Match[str]) -> str:
    return f"*|URL:{match.group(1)}|*"


@dataclass(frozen=True)
class Token:
    """``{{ name }}`` or ``{{ name|default('fallback') }}`` in a template."""

    name: str
    fallback: str | None = None


_PARSER = SandboxedEnvironment()
_IN_TAG = re.compile(r"<[^<>]*$")


def simple_pieces(source: str, html: bool) -> list[str | Token] | None:
    """``source`` as literal text and :class:`Token` pieces, or None when it holds
    anything else (blocks, other filters, expressions) or, in HTML, a token inside a tag:
    those are rendered by Jinja with tags for values."""
    try:
        tree = _PARSER.parse(source)
    except TemplateSyntaxError:
        return None
    pieces: list[str | Token] = []
    before = ""
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append(node.data)
                before += node.data
                continue
            token = _token(node)
            if token is None or (html and _IN_TAG.search(before)):
                return None
            pieces.append(token)
    return pieces


def _token(node: nodes.Node) -> Token | None:
    if isinstance(node, nodes.Name):
        return Token(node.name)
    if (
        isinstance(node, nodes.Filter)
        and node.name == "default"
        and isinstance(node.node, nodes.Name)
        and len(node.args) == 1
        and isinstance(node.args[0], nodes.Const)
        and isinstance(node.args[0].value, str)
        and not node.kwargs
    ):
        return Token(node.node.name, node.args[0].value)
    return None


def _tag_text(token: Token, tags: dict[str, str], html: bool) -> str:
    """One token as a merge tag; with a fallback (its own or Decant's), a conditional that
    shows the fallback when the member has no value, as Decant does."""
    tag = tags.get(token.name)
    fallback = token.fallback if token.fallback is not None else FALLBACKS.get(token.name)
    if tag is None:  # a token the audience cannot hold: what Decant renders when missing
        return _escape(fallback or "") if html else fallback or ""
    if fallback is None or token.name in SYSTEM_TAGS:
        return f"*|{tag}|*"
    otherwise = f"*|ELSE:|*{_escape(fallback) if html else fallback}" if fallback else ""
    return f"*|IF:{tag}|**|{tag}|*{otherwise}*|END:IF|*"


def _escape(text: str) -> str:
    return str(escape(text))


def custom_keys(sources: Iterable[tuple[str | None, str | None]]) -> set[str]:
    """The custom field keys used as tokens in these (subject, HTML) pairs."""
    names: set[str] = set()
    for subject, html in sources:
        names |= token_names(subject, html=False) | token_names(html, html=True)
    return custom_field_keys(names - set(SYSTEM_TAGS))


# --------------------------------------------------------------------------- reading


def fill(text: str, values: dict[str, str], defaults: dict[str, str] | None = None) -> str:
    """``text`` as Mailchimp renders it for a member with these merge ``values``.

    ``*|IF:TAG|*`` takes its first branch when the member has a value; ``*|TAG|*`` is the
    value, else the field's default. Tags with no value nor default are left as they are.
    """
    defaults = defaults or {}

    def conditional(match: re.Match[str]) -> str:
        return match.group(2) if values.get(match.group(1)) else (match.group(3) or "")

    def tag(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name) or defaults.get(name) or match.group(0)

    return _TAG.sub(tag, _CONDITIONAL.sub(conditional, text or ""))


def preview(text: str) -> str:
    """``text`` for a page where no recipient is in view: each tag a readable
    placeholder (``Hello *|FNAME|*`` -> ``Hello [Customer name]``)."""
    names = {m: PLACEHOLDERS.get(m, m.replace("_", " ").lower()) for m in _TAG.findall(text)}
    names.update({m: PLACEHOLDERS.get(m, m.lower()) for m, *_ in _CONDITIONAL.findall(text)})
    return fill(text, {tag: f"[{label}]" for tag, label in names.items()})
