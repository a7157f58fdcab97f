"""Template tokens rendered in Jinja's sandbox.

Tokens are ``{{customer_name}}``, ``{{last_order_date}}``, ``{{territory}}``,
``{{rep_name}}`` and any custom field by its key, each with a fallback
(``{{customer_name|default("friend")}}``). Templates are checked when saved: an unknown
token or any reach for Python internals (``__class__``, ``mro``...) is refused naming it,
and the sandbox refuses it again at render time. Email HTML is autoescaped, sanitised with
nh3 on save and CSS-inlined with css-inline at send; a plain-text part is derived.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import css_inline
import nh3
from jinja2 import Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.filters import do_default as _JINJA_DEFAULT
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import escape

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


#: Bounds that keep one template from eating a worker's memory or CPU (``"x" * 10**9``,
#: ``customer_name|center(10**9)``, nested loops): numbers written in a template, the size
#: of any repeated string or list, and how deep loops may nest.
MAX_NUMBER = 10_000
MAX_REPEAT_LENGTH = 100_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with ``*`` and ``**`` checked, so repetition cannot explode."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        for seq, times in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if sized and len(seq) * max(times, 0) > MAX_REPEAT_LENGTH:
                raise SecurityError("repetition too large")
        numbers = isinstance(left, int | float) and isinstance(right, int | float)
        if numbers and max(abs(left), abs(right)) > MAX_NUMBER**2:
            raise SecurityError("number too large")
        return super().call_binop(context, operator, left, right)


class _FallbackUndefined(Undefined):
    """A token with no value renders its core fallback (:data:`FALLBACKS`), or nothing;
    ``|default(...)`` still sees it as undefined, so a template's own fallback wins."""

    __slots__ = ()

    def __str__(self) -> str:
        return FALLBACKS.get(self._undefined_name or "", "")


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _BoundedSandbox(autoescape=autoescape, trim_blocks=True, undefined=_FallbackUndefined)
    env.filters.pop("attr", None)  # no attribute access by name, even sandboxed
    return env


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
    allowed = set(CORE_TOKENS) | custom_keys
    try:
        used = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # e.g. a filter that does not exist
        raise TemplateProblem(field, f"not allowed: {exc.message}") from exc
    unknown = sorted(used - allowed)
    if unknown:
        raise TemplateProblem(field, f"unknown token {{{{{unknown[0]}}}}}")
    try:
        env.from_string(source).render(sample_context(custom_keys))
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
    """Render with empty values left undefined, so ``|default(...)`` fallbacks apply."""
    if not source:
        return ""
    pieces = simple_pieces(source, html)
    if pieces is not None:
        return "".join(_fill(pieces, context, html))
    present = {k: v for k, v in context.items() if v is not None and v != ""}
    return _compiled(source, html).render(present)


@dataclass(frozen=True)
class Token:
    """``{{ name }}`` or ``{{ name|default('fallback') }}`` in a template."""

    name: str
    fallback: str | None = None


@lru_cache(maxsize=64)
def simple_pieces(source: str, html: bool) -> tuple[str | Token, ...] | None:
    """``source`` as literal text and :class:`Token` pieces, or None if it holds anything
    else (blocks, other filters, expressions), which Jinja then renders.

    Most templates are only text and tokens; filling those in directly costs a fraction
    of a Jinja render, which matters at a campaign's hundred thousand recipients. The
    result is the same as Jinja's (a property test holds the two to it)."""
    env = _environment(html)
    if env.finalize is not None or env.filters.get("default") is not _JINJA_DEFAULT:
        return None
    try:
        tree = env.parse(source)
    except TemplateSyntaxError:
        return None
    pieces: list[str | Token] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            piece = _piece(node, env)
            if piece is None:
                return None
            pieces.append(piece)
    return tuple(pieces)


def _piece(node: nodes.Node, env: ImmutableSandboxedEnvironment) -> str | Token | None:
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
    if value.__class__ is str:
        return _escape_text(value)
    return str(escape(value))


def token_forms(token: Token, context: dict[str, Any]) -> tuple[str, str]:
    """:func:`token_value` as plain text and HTML-escaped, in one lookup."""
    value = _value_of(token, context)
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

ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "style",
    "center",
    "font",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "img",
    "span",
    "div",
    "hr",
    "br",
}
ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "class", "align", "width", "height", "bgcolor", "color"},
    "a": {"href", "title", "target"},
    "img": {"src", "alt", "width", "height"},
    "table": {"cellpadding", "cellspacing", "border", "role"},
}


def sanitise_html(source: str) -> str:
    """Strip scripts, event handlers and javascript: URLs; keep email-friendly markup."""
    return nh3.clean(
        source,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        clean_content_tags={"script"},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel=None,
        strip_comments=True,
    )


_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def inline_css(source: str) -> str:
    try:
        return _INLINER.inline(source)
    except Exception:  # malformed CSS must not block a send; the HTML stays as it is
        return source


class _TextExtractor(HTMLParser):
    PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "table", "hr", "ul", "ol"}
    LINES = {"div", "tr", "li"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        if tag in self.PARAGRAPHS:
            self.parts.append("\n\n")
        if tag == "br":
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)
        if tag == "a" and self._href:
            self.parts.append(f" ({self._href})")
            self._href = None
        if tag in self.PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in self.LINES:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(source: str) -> str:
    """A readable plain-text part: paragraphs kept, links written out after their text."""
    parser = _TextExtractor()
    parser.feed(source)
    return tidy_text("".join(parser.parts))  # the parser has read character references


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
    rendered_subject = " ".join(render(subject, context, html=False).split())
    body = render(html_source, context, html=True)
    if inline:
        body = inline_css(body)
    return RenderedEmail(rendered_subject, body, html_to_text(body))
