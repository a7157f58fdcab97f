"""Template tokens rendered in Jinja's sandbox.

Tokens are ``{{customer_name}}``, ``{{last_order_date}}``, ``{{territory}}``,
``{{rep_name}}`` and any custom field by its key, each with a fallback
(``{{customer_name|default("friend")}}``). Templates are checked when saved: an unknown
token or any reach for Python internals (``__class__``, ``mro``...) is refused naming it,
and the sandbox refuses it again at render time. Email HTML is autoescaped, sanitised with
nh3 on save and CSS-inlined with css-inline at send; a plain-text part is derived.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.sandbox import SecurityError
from markupsafe import escape

from app.messaging import email_html, email_text, sandbox

CORE_TOKENS = ("customer_name", "last_order_date", "territory", "rep_name", "unsubscribe_url")
#: What a core token says when the customer has no value for it and the template gives
#: no ``|default(...)`` of its own (an explicit default wins).
FALLBACKS = {
    "customer_name": "there",
    "last_order_date": "some time ago",
    "territory": "your area",
    "rep_name": "your rep",
}
MAX_TEMPLATE_LENGTH = 200_000


class TemplateProblem(ValueError):
    """A template that cannot be saved; ``field`` names where, ``message`` says what."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


#: Numbers a template may write (bigger ones are refused at save time; what rendering may
#: build is bounded by :mod:`app.messaging.sandbox`).
MAX_NUMBER = 10_000
RenderLimit = sandbox.RenderLimit


class _FallbackUndefined(Undefined):
    """A token with no value renders its core fallback (:data:`FALLBACKS`), or nothing;
    ``|default(...)`` still sees it as undefined, so a template's own fallback wins."""

    __slots__ = ()

    def __str__(self) -> str:
        return FALLBACKS.get(self._undefined_name or "", "")


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> sandbox.BoundedSandbox:
    return sandbox.BoundedSandbox(
        autoescape=autoescape, trim_blocks=True, undefined=_FallbackUndefined
    )


def check_template(source: str | None, field: str, custom_keys: set[str], *, html: bool) -> None:
    """Refuse unknown tokens, private attribute access and syntax errors at save time."""
    if not source:
        return
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateProblem(field, f"template longer than {MAX_TEMPLATE_LENGTH} characters")
    env = _environment(html)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(field, f"syntax error line {exc.lineno}: {exc.message}") from exc
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
        raise TemplateProblem(
            field, f"attribute access {name!r} is not allowed in templates; use plain tokens"
        )
    if any(True for _ in tree.find_all((nodes.Call,))):
        raise TemplateProblem(field, "function calls are not allowed in templates")
    for const in tree.find_all((nodes.Const,)):
        value = const.value
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and abs(value) > MAX_NUMBER:
            raise TemplateProblem(field, f"number {value} is too large (max {MAX_NUMBER})")
    for loop in tree.find_all((nodes.For,)):
        if any(True for _ in loop.find_all((nodes.For,))):
            raise TemplateProblem(field, "loops inside loops are not allowed in templates")
    if any(node.operator == "**" for node in tree.find_all((nodes.BinExpr,))):
        raise TemplateProblem(field, "the ** operator is not allowed in templates")
    if any(True for _ in tree.find_all((nodes.EvalContextModifier,))):
        raise TemplateProblem(field, "autoescape blocks are not allowed in templates")
    if any(node.name == "safe" for node in tree.find_all((nodes.Filter,))):
        raise TemplateProblem(
            field, "the safe filter is not allowed: values are escaped where they land"
        )
    allowed = set(CORE_TOKENS) | custom_keys
    try:
        used = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # e.g. a filter that does not exist
        raise TemplateProblem(field, f"not allowed: {exc.message}") from exc
    unknown = sorted(used - allowed)
    if unknown:
        raise TemplateProblem(field, f"unknown token {{{{{unknown[0]}}}}}")
    try:
        sandbox.render_bounded(env.from_string(source), sample_context(custom_keys))
    except RenderLimit as exc:
        raise TemplateProblem(field, str(exc)) from exc
    except SecurityError as exc:
        raise TemplateProblem(field, f"not allowed: {exc}") from exc
    except Exception as exc:  # a filter misused on sample data
        raise TemplateProblem(field, f"cannot render: {exc}") from exc


def sample_context(custom_keys: set[str]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "customer_name": "Sample Bistro",
        "last_order_date": date(2026, 1, 15).isoformat(),
        "territory": "North",
        "rep_name": "Sam Rep",
        "unsubscribe_url": "https://example.com/u/sample",
    }
    context.update({key: f"<{key}>" for key in custom_keys})
    return context


def customer_context(customer: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Token values for one customer (a missing one renders its fallback). ``extra``
    personalisation overrides them, except an empty or null value, which counts as
    missing: the customer's own value or the fallback stays."""
    context = context_values(
        customer.name,
        customer.last_order_date,
        customer.territory.name if customer.territory else None,
        customer.rep.name if customer.rep else None,
        customer.custom_fields,
    )
    if extra:
        context.update(
            {
                k: v
                for k, v in extra.items()
                if isinstance(k, str) and k.isidentifier() and v is not None and v != ""
            }
        )
    return context


def context_values(
    name: str | None,
    last_order_date: date | None,
    territory: str | None,
    rep_name: str | None,
    custom_fields: dict[str, Any] | None,
) -> dict[str, Any]:
    """:func:`customer_context` from the customer's columns (a campaign batch reads them
    with one query, not as objects). A missing value is left empty: rendering gives it
    the template's ``|default(...)`` or else its :data:`FALLBACKS` entry."""
    context: dict[str, Any] = {
        "customer_name": name or "",
        "last_order_date": last_order_date.isoformat() if last_order_date else "",
        "territory": territory or "",
        "rep_name": rep_name or "",
    }
    for key, value in (custom_fields or {}).items():
        if key not in context and key.isidentifier():
            context[key] = value
    return context


def render(source: str | None, context: dict[str, Any], *, html: bool) -> str:
    """Render with empty values left undefined, so ``|default(...)`` fallbacks apply.

    Text and tokens are filled in directly (values escaped for where they land); anything
    else is rendered by the bounded sandbox and, for HTML, sanitised again afterwards
    (:func:`clean_rendered_html`), so what the template computed cannot add a script,
    a handler or a ``javascript:`` link. Past a bound it raises :class:`RenderLimit`."""
    if not source:
        return ""
    pieces = simple_pieces(source, html)
    if pieces is not None:
        out = "".join(_fill(pieces, context, html))
        if len(out) > sandbox.MAX_OUTPUT:
            raise RenderLimit(f"the template produces more than {sandbox.MAX_OUTPUT:,} characters")
        return out
    present = {k: v for k, v in context.items() if v is not None and v != ""}
    out = sandbox.render_bounded(_compiled(source, html), present)
    return clean_rendered_html(out) if html else out


def render_part(field: str, source: str | None, context: dict[str, Any], *, html: bool) -> str:
    """:func:`render`, a :class:`RenderLimit` naming ``field``."""
    try:
        return render(source, context, html=html)
    except RenderLimit as exc:
        exc.field = exc.field or field
        raise


@dataclass(frozen=True)
class Token:
    """``{{ name }}`` or ``{{ name|default('fallback') }}`` in a template. ``url_prefix``
    is set when it sits in a URL attribute (``href="{{ site }}"``) whose scheme it could
    choose: the literal text before it there; its value is then dropped when the two
    together name a scheme other than :data:`URL_SCHEMES`."""

    name: str
    fallback: str | None = None
    url_prefix: str | None = None


@lru_cache(maxsize=64)
def simple_pieces(source: str, html: bool) -> tuple[str | Token, ...] | None:
    """``source`` as literal text and :class:`Token` pieces, or None if it holds anything
    else (blocks, other filters, expressions), which Jinja then renders.

    Most templates are only text and tokens; filling those in directly costs a fraction
    of a Jinja render, which matters at a campaign's hundred thousand recipients. The
    result is the same as Jinja's (a property test holds the two to it), except that a
    value cannot choose a URL's scheme. A token inside a tag but not in a quoted
    attribute value, or a second one in a URL before its scheme is fixed, is left to
    Jinja and the sanitiser."""
    env = _environment(html)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError:
        return None
    places = _Places() if html else None
    pieces: list[str | Token] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            piece = _piece(node, env)
            if piece is None:
                return None
            if places is not None:
                piece = places.place(piece)
                if piece is None:
                    return None
            pieces.append(piece)
    return tuple(pieces)


#: Schemes a link or image may use (as the sanitiser allows on save).
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc"}
    | {"srcset", "xlink:href", "data", "codebase", "ping", "usemap", "lowsrc", "dynsrc"}
)
_OPEN_ATTRIBUTE = re.compile(
    r"""([^\s"'<>/=]+)\s*=\s*(?:"(?P<dq>[^"]*)|'(?P<sq>[^']*)|(?P<bare>[^\s"'=<>`]*))\Z"""
)
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_HOLE = "\x00"  # stands for a token's value while the literal text is parsed


class _Places(HTMLParser):
    """Where each token of an HTML template lands, read from the literal text before it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)

    def place(self, piece: str | Token) -> str | Token | None:
        if isinstance(piece, str):
            self.feed(piece)
            return piece
        pending = self.rawdata  # what the parser could not place yet
        self.feed(_HOLE)
        if not pending:
            return piece  # in text: escaping is enough
        if not (pending.startswith("<") and pending[1:2].isalpha()):
            return None  # after "<", "&" or in a style: Jinja and the sanitiser decide
        found = _OPEN_ATTRIBUTE.search(pending)
        if found is None or found["bare"] is not None:
            return None  # in a tag, not in a quoted value
        if found.group(1).lower() not in _URL_ATTRIBUTES:
            return piece
        prefix = html_lib.unescape(found["dq"] if found["dq"] is not None else found["sq"])
        if _unsafe_url(prefix.replace(_HOLE, "")):
            return None
        if _scheme_fixed(prefix):
            return piece
        if _HOLE in prefix:
            return None
        return Token(piece.name, piece.fallback, prefix)


_C0_AND_SPACE = "".join(map(chr, range(33)))


def _browser_url(url: str) -> str:
    """``url`` as a browser reads it: outer spaces and controls gone, tabs and newlines
    inside removed."""
    return re.sub(r"[\t\n\r]", "", url).strip(_C0_AND_SPACE)


def _scheme_fixed(prefix: str) -> bool:
    """Whether the text before a token already decides the URL's scheme (or that it has
    none): a ``:``, ``/``, ``?`` or ``#`` in it."""
    return any(c in _browser_url(prefix) for c in ":/?#")


def _unsafe_url(url: str) -> bool:
    if url.startswith(("https://", "http://")):
        return False  # the usual case, decided without a regular expression
    found = _SCHEME.match(_browser_url(url))
    return found is not None and found.group(1).lower() not in URL_SCHEMES


def _piece(node: nodes.Node, env: sandbox.BoundedSandbox) -> str | Token | None:
    if isinstance(node, nodes.TemplateData):
        return node.data
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in env.globals:
        return Token(node.name)
    if (
        isinstance(node, nodes.Filter)
        and node.name == "default"
        and isinstance(node.node, nodes.Name)
        and node.node.name not in env.globals
        and len(node.args) == 1
        and isinstance(node.args[0], nodes.Const)
        and isinstance(node.args[0].value, str)
        and not node.kwargs
        and node.dyn_args is None
        and node.dyn_kwargs is None
    ):
        return Token(node.node.name, node.args[0].value)
    return None


def _fill(pieces: tuple[str | Token, ...], context: dict[str, Any], html: bool) -> list[str]:
    """The pieces with each token's value (:func:`token_value`)."""
    return [
        piece if piece.__class__ is str else token_value(piece, context, html)  # type: ignore[misc, arg-type]
        for piece in pieces
    ]


def token_value(token: Token, context: dict[str, Any], html: bool) -> str:
    """What ``token`` renders to: its value, or its fallback when the value is missing or
    empty (as in :func:`render`), HTML-escaped when ``html``."""
    value = _value_of(token, context)
    if not html:
        return str(value)
    if token.url_prefix is not None and _unsafe_url(token.url_prefix + str(value)):
        return ""
    if value.__class__ is str:
        return _escape_text(value)
    return str(escape(value))


def token_forms(token: Token, context: dict[str, Any]) -> tuple[str, str]:
    """:func:`token_value` as plain text and HTML-escaped, in one lookup."""
    value = _value_of(token, context)
    if token.url_prefix is not None and _unsafe_url(token.url_prefix + str(value)):
        return "", ""
    if value.__class__ is str:
        return value, _escape_text(value)
    return str(value), str(escape(value))


def _value_of(token: Token, context: dict[str, Any]) -> Any:
    """The token's value, or when it is missing or empty its own fallback, else the core
    one (as :class:`_FallbackUndefined` gives Jinja)."""
    value = context.get(token.name)
    if value is None or value == "":
        if token.fallback is not None:
            return token.fallback
        return FALLBACKS.get(token.name, "")
    return value


def _escape_text(value: str) -> str:
    """What ``markupsafe.escape`` gives for plain text, without making a Markup object."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    return (
        value.replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")
    )


def template_tokens(source: str) -> list[str]:
    """The Jinja tags of ``source`` (``{{ ... }}``, ``{% ... %}``, ``{# ... #}``) in order."""
    return _JINJA_TAG.findall(source)


_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def undeclared_tokens(source: str, *, html: bool) -> set[str]:
    """The variables ``source`` uses (jinja2.meta)."""
    return meta.find_undeclared_variables(_environment(html).parse(source))


@lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Template:
    """Compile once per source: a campaign renders the same template for every recipient
    (compiling is ~20x the cost of rendering). Compiled templates are immutable."""
    return _environment(html).from_string(source)


# HTML email parts -----------------------------------------------------------------


def sanitise_html(source: str) -> str:
    """Keep the document as designed, remove what can run or exfiltrate
    (:mod:`app.messaging.email_html`)."""
    return email_html.sanitise(source)[0]


def clean_rendered_html(rendered: str) -> str:
    """What a rendered HTML body may keep: the one place that decides it after rendering
    (the same sanitiser as on save, so a template's expressions cannot add what its
    source could not hold)."""
    return email_html.clean(rendered)


def inline_css(source: str) -> str:
    """:func:`app.messaging.email_html.inline_css`: style blocks kept, doctype as written."""
    return email_html.inline_css(source)


def html_to_text(source: str) -> str:
    """A readable plain-text part (:mod:`app.messaging.email_text`)."""
    return email_text.html_to_text(source)


def tidy_text(text: str) -> str:
    """Runs of spaces and tabs made one space, lines stripped, at most one blank line in a
    row, no blank lines at either end (the last step of :func:`html_to_text`)."""
    text = re.sub(r"[ \t]+", " ", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def loose_text(value: str) -> bool:
    """Whether ``value``, put into text :func:`tidy_text` made, could need tidying again:
    empty, or holding whitespace other than single inner spaces."""
    return (
        not value or not value.isprintable() or "  " in value or value[0] == " " or value[-1] == " "
    )


@dataclass(slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render_email(
    subject: str, html_source: str, context: dict[str, Any], *, inline: bool = True
) -> RenderedEmail:
    """Subject, HTML and text part; a :class:`RenderLimit` names the part (``subject`` or
    ``html``) in its ``field``."""
    rendered_subject = " ".join(render_part("subject", subject, context, html=False).split())
    body = render_part("html", html_source, context, html=True)
    if inline:
        body = inline_css(body)
    return RenderedEmail(rendered_subject, body, html_to_text(body))
