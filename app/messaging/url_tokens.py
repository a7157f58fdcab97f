"""Tokens inside addresses are URL-encoded, by rewriting the template's source.

``href="https://example.com/?name={{ customer_name }}"`` becomes
``{{ customer_name|default('there')|urlencode }}`` when the template is saved, so every
renderer (Jinja's sandbox, or the campaign filler falling back to it) encodes the value:
"Abernathy & Kowalski" no longer splits the query. A token standing for a whole address
(``href="{{ unsubscribe_url }}"``) or right after ``mailto:``/``tel:``/``sms:`` is left as
it is: its value is an address, which the sanitiser checks when the message is rendered.
Text tokens stay HTML-escaped by autoescaping.
"""

from __future__ import annotations

from jinja2 import Environment, TemplateSyntaxError, nodes

#: Attributes holding an address.
URL_ATTRIBUTES = frozenset({"href", "src", "background", "action", "poster", "cite"})
_PARSER = Environment(autoescape=True)


def encode_attributes(attrs: dict[str, str | None]) -> None:
    """Encode the tokens of an element's address attributes in place (idempotent: an
    encoded token is left alone)."""
    for name, value in list(attrs.items()):
        if value and "{{" in value and name.lower() in URL_ATTRIBUTES:
            attrs[name] = encode_in_address(value)


def encode_in_markup(markup: str) -> str:
    """:func:`encode_attributes` on raw markup kept as written (an Outlook conditional
    comment's VML): each token inside a quoted address attribute is encoded in place,
    everything else is left byte for byte."""
    out: list[str] = []
    pos = 0
    while (start := markup.find("{{", pos)) != -1:
        end = markup.find("}}", start)
        if end == -1:
            break
        token = markup[start : end + 2]
        out.append(markup[pos:start])
        prefix = _address_prefix(markup[:start])
        out.append(_encoded(token) if prefix is not None and _in_address_data(prefix) else token)
        pos = end + 2
    out.append(markup[pos:])
    return "".join(out)


def _address_prefix(before: str) -> str | None:
    """The text of an address attribute's quoted value up to a token, or None when the
    token is not inside one (earlier tokens are blanked first: their quotes are not the
    value's)."""
    blank = list(before)
    pos = 0
    while (start := before.find("{{", pos)) != -1:
        end = before.find("}}", start)
        if end == -1:
            break
        blank[start : end + 2] = "x" * (end + 2 - start)
        pos = end + 2
    text = "".join(blank)
    quote = max(text.rfind('"'), text.rfind("'"))
    if quote < 1 or "<" in text[quote:] or ">" in text[quote:]:
        return None
    head = text[:quote].rstrip()
    if not head.endswith("="):
        return None
    words = head[:-1].split()
    if not words or words[-1].lower() not in URL_ATTRIBUTES:
        return None  # the quote opens another attribute's value (or closes one)
    return before[quote + 1 :]


def encode_in_address(value: str) -> str:
    """Each ``{{ ... }}`` of an address after its scheme and host, encoded."""
    out: list[str] = []
    pos = 0
    while (start := value.find("{{", pos)) != -1:
        end = value.find("}}", start)
        if end == -1:
            break
        out.append(value[pos:start])
        token = value[start : end + 2]
        out.append(_encoded(token) if _in_address_data(value[:start]) else token)
        pos = end + 2
    out.append(value[pos:])
    return "".join(out)


def _in_address_data(prefix: str) -> bool:
    """Whether a token after ``prefix`` is data inside an address (path, query, fragment)
    rather than the address itself, its host or the recipient of a mailto/tel/sms."""
    prefix = prefix.strip()
    if not prefix:
        return False
    if "?" in prefix or "#" in prefix:
        return True
    if "://" in prefix:
        return "/" in prefix.split("://", 1)[1]
    scheme, colon, _ = prefix.partition(":")
    return not (colon and scheme.isalpha())  # mailto:{{ ... }} is the address; else a path


def _encoded(token: str) -> str:
    try:
        template = _PARSER.parse(token)
    except TemplateSyntaxError:
        return token
    body = template.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return token
    expression = body[0].nodes[0]
    if isinstance(expression, nodes.Filter) and expression.name == "urlencode":
        return token
    inner = token[2:-2].strip()
    if isinstance(expression, nodes.Name):
        from app.messaging.rendering import FALLBACKS  # noqa: PLC0415 (cycle)

        fallback = FALLBACKS.get(expression.name)
        if fallback is not None:  # urlencode would turn an undefined value into ""
            return f"{{{{ {inner}|default({fallback!r})|urlencode }}}}"
    return f"{{{{ {inner}|urlencode }}}}"
