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
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError

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
        key = getattr(node, "arg", None)
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(key, "value", "")
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
    """Render in the bounded sandbox with empty values left undefined, so
    ``|default(...)`` fallbacks apply. HTML is sanitised again afterwards
    (:func:`clean_rendered_html`), so what the template computed cannot add a script, a
    handler or a ``javascript:`` link. Past a bound it raises :class:`RenderLimit`."""
    if not source:
        return ""
    out = sandbox.render_bounded(compiled(source, html), present_values(context))
    return clean_rendered_html(out) if html else out


def present_values(context: dict[str, Any]) -> dict[str, Any]:
    """The context without its empty values (they render their fallback)."""
    return {k: v for k, v in context.items() if v is not None and v != ""}


def render_part(field: str, source: str | None, context: dict[str, Any], *, html: bool) -> str:
    """:func:`render`, a :class:`RenderLimit` naming ``field``."""
    try:
        return render(source, context, html=html)
    except RenderLimit as exc:
        exc.field = exc.field or field
        raise


#: Schemes a link or image may use (as the sanitiser allows on save).
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def template_tokens(source: str) -> list[str]:
    """The Jinja tags of ``source`` (``{{ ... }}``, ``{% ... %}``, ``{# ... #}``) in order."""
    return _JINJA_TAG.findall(source)


_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def undeclared_tokens(source: str, *, html: bool) -> set[str]:
    """The variables ``source`` uses (jinja2.meta)."""
    return meta.find_undeclared_variables(_environment(html).parse(source))


@lru_cache(maxsize=64)
def compiled(source: str, html: bool) -> Template:
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


@dataclass(slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    #: the URLs behind the message's numbered click links, in order
    links: tuple[str, ...] = ()


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
