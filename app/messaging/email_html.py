"""Email HTML kept as designed: only what can run or exfiltrate is removed.

A template is a whole document (doctype, ``<head>`` with its meta, title, styles and
web-font links, Outlook's conditional comments, ids, layout attributes). JustHTML, an
HTML5 parser, reads the document frame; nh3 (ammonia) sanitises the head's and the body's
contents with the allow-lists below; what JustHTML sees before and after is compared to
report what was removed. Fragments (no ``<html>``/``<head>``/``<body>``) go to nh3 alone.

Removed: scripts and their content, event-handler attributes, URLs whose scheme could run
(``javascript:``, ``vbscript:``, ``data:`` outside an image), frames, objects, embeds,
forms and their controls, ``<base>``, refresh ``<meta>``, stylesheets from hosts other
than web-font services, and conditional comments holding any of these (their content is
only seen by Outlook, which is kept byte for byte when harmless).
"""

from __future__ import annotations

import html as html_lib
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import css_inline
import nh3
from justhtml import Comment, DocumentFragment, JustHTML, Text, to_html

from app.messaging import url_tokens

#: Schemes an address may use; ``data:`` and ``cid:`` only as an image's source.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "sms", "cid", "data"})
_IMAGE_ONLY_SCHEMES = frozenset({"cid", "data"})
_DATA_IMAGE_TYPES = ("image/png", "image/gif", "image/jpeg", "image/jpg", "image/webp")
#: Hosts whose stylesheets a template may link: web fonts. Another external stylesheet
#: could change the message after it was sent and track each reading outside Decant.
FONT_STYLESHEET_HOSTS = frozenset(
    {"fonts.googleapis.com", "fonts.bunny.net", "use.typekit.net", "fast.fonts.net"}
)
_URL_ATTRIBUTES = frozenset({"href", "src", "background", "action", "poster", "cite", "srcset"})

TAGS = frozenset(
    {
        *("html", "head", "body", "meta", "title", "style", "link"),
        *("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col"),
        *("div", "span", "p", "br", "hr", "center", "font", "a", "img", "picture", "source"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
        *("b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "sup", "sub", "small"),
        *("big", "mark", "abbr", "blockquote", "pre", "code", "address", "wbr", "q", "cite"),
        *("section", "article", "header", "footer", "main", "nav", "aside", "figure"),
        *("figcaption", "label"),
    }
)
_GLOBAL_ATTRIBUTES = {
    *("id", "class", "style", "title", "lang", "dir", "role", "align", "valign", "width"),
    *("height", "bgcolor", "background", "color", "border", "bordercolor", "nowrap"),
    *("hidden", "translate", "xml:lang"),
}
ATTRIBUTES: dict[str, set[str]] = {
    "*": _GLOBAL_ATTRIBUTES,
    "html": {"xmlns", "xmlns:v", "xmlns:o", "xmlns:w", "xmlns:m"},
    "body": {"link", "vlink", "alink", "text", "leftmargin", "topmargin", "marginwidth"}
    | {"marginheight"},
    "meta": {"charset", "name", "content", "http-equiv", "property"},
    "link": {"href", "rel", "type", "media", "crossorigin"},
    "style": {"type", "media"},
    "a": {"href", "target", "name", "rel"},
    "img": {"src", "alt", "srcset", "sizes", "border", "hspace", "vspace", "usemap"},
    "source": {"srcset", "media", "type", "sizes"},
    "table": {"cellpadding", "cellspacing", "summary", "frame", "rules"},
    "td": {"colspan", "rowspan", "headers", "scope", "abbr", "axis", "char", "charoff"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr", "axis"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"face", "size"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "hr": {"noshade", "size"},
}
#: Tags whose content goes with them.
CONTENT_TAGS = frozenset(
    {"script", "iframe", "object", "embed", "applet", "frame", "frameset", "noscript"}
    | {"form", "select", "textarea", "button", "svg", "math", "template", "base"}
)
_SAFE_HTTP_EQUIV = frozenset({"content-type", "x-ua-compatible", "content-language"})


def _url_allowed(element: str, attribute: str, value: str) -> bool:
    """Whether ``value`` may stand in ``attribute``: a relative address (a token), an
    allowed scheme, ``data:``/``cid:`` only for images."""
    url = "".join(value.split()).lower()
    scheme, colon, _rest = url.partition(":")
    if not colon or not scheme.isascii() or "/" in scheme or "?" in scheme or "{" in scheme:
        return True  # relative, or a token standing for the whole address
    if scheme not in URL_SCHEMES:
        return False
    if scheme in _IMAGE_ONLY_SCHEMES:
        if element not in ("img", "source") or attribute not in ("src", "srcset"):
            return False
        return scheme == "cid" or url[5:].startswith(_DATA_IMAGE_TYPES)
    return True


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES and not _url_allowed(element, attribute, value):
        return None
    if element == "meta" and attribute == "http-equiv":
        return value if value.strip().lower() in _SAFE_HTTP_EQUIV else None
    if element == "link" and attribute == "href" and not font_stylesheet(value):
        return None
    return value


def font_stylesheet(href: str) -> bool:
    """An https stylesheet of a web-font service (:data:`FONT_STYLESHEET_HOSTS`)."""
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "") in FONT_STYLESHEET_HOSTS


_CLEANER = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(CONTENT_TAGS),
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    generic_attribute_prefixes={"aria-", "data-"},
    url_schemes=set(URL_SCHEMES),
    link_rel=None,
    strip_comments=False,
)


@dataclass(frozen=True)
class Removed:
    """One kind of thing taken out, and how many times."""

    what: str
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"what": self.what, "count": self.count}


def is_document(source: str) -> bool:
    """Whether ``source`` is a whole document rather than a fragment of a body."""
    head = source[:4096].lower()
    return head.lstrip().startswith("<!doctype") or any(
        f"<{tag}" in head for tag in ("html", "head", "body")
    )


def clean(source: str, *, encode_tokens: bool = False) -> str:
    """``source`` with only what can run or exfiltrate removed (:func:`sanitise` without
    the report), used again on every rendered message that Jinja computed. With
    ``encode_tokens``, tokens inside addresses are URL-encoded (:mod:`url_tokens`)."""
    if not source:
        return source
    document = JustHTML(source, fragment=not is_document(source), sanitize=False)
    comments = _drop_dangerous_nodes(document.root, encode_tokens and "{{" in source)
    if isinstance(document.root, DocumentFragment):
        out = _clean_fragment(to_html(document.root, pretty=False))
    else:
        out = "".join(_frame(node) for node in document.root.children or ())
    return unmark_comments(out, comments)  # byte for byte, as Outlook reads them


def _clean_fragment(source: str) -> str:
    return str(_CLEANER.clean(source))


def sanitise(source: str) -> tuple[str, list[Removed]]:
    """:func:`clean` with tokens inside addresses URL-encoded, and the list of what was
    removed (elements, attributes, conditional comments) by kind."""
    cleaned = clean(source, encode_tokens=True)
    return cleaned, _removals(_inventory(source), _inventory(cleaned))


# --- the document frame --------------------------------------------------------------------


def _frame(node: Any) -> str:
    """A node of the document outside head and body contents, re-serialised; the head's
    and the body's children go through nh3."""
    if isinstance(node, Comment):
        return f"<!--{node.data}-->"  # a marker (see _drop_dangerous_nodes)
    if isinstance(node, Text):
        return html_lib.escape(node.data or "", quote=False)
    name = str(node.name).lower()
    if name == "!doctype":
        return to_html(node, pretty=False)
    if name not in ("html", "head", "body"):
        return _clean_fragment(to_html(node, pretty=False))
    attributes = _frame_attributes(name, node.attrs or {})
    if name == "html":
        inner = "".join(_frame(child) for child in node.children or ())
    else:
        inner = _clean_fragment("".join(to_html(c, pretty=False) for c in node.children or ()))
    return f"<{name}{attributes}>{inner}</{name}>"


def _frame_attributes(tag: str, attrs: dict[str, str | None]) -> str:
    allowed = _GLOBAL_ATTRIBUTES | ATTRIBUTES.get(tag, set())
    out = []
    for name, value in attrs.items():
        key = name.lower()
        if key not in allowed and not key.startswith(("aria-", "data-")):
            continue
        if value is not None and _attribute_filter(tag, key, value) is None:
            continue
        out.append(key if value is None else f'{key}="{html_lib.escape(value, quote=True)}"')
    return "".join(f" {item}" for item in out)


def _protect_jinja(source: str) -> str:
    """Minified CSS writes ``{#id`` (``@media ...{#bodyCell{...}}``), which Jinja reads as
    the start of a comment: a space keeps the rule and the template both valid."""
    return source.replace("{#", "{ #") if "{#" in source else source


def _text_of(node: Any) -> str:
    data = getattr(node, "data", None)
    return data if isinstance(data, str) else ""


def _walk(node: Any) -> Iterator[Any]:
    for child in list(node.children or ()):
        yield child
        yield from _walk(child)


def _drop_dangerous_nodes(root: Any, encode_tokens: bool) -> dict[str, str]:
    """Remove conditional comments holding anything runnable (Outlook reads their
    content) and unwanted head elements; protect style text from Jinja. The comments that
    stay are swapped for markers, returned with their text, so nh3 cannot alter them."""
    for node in list(_walk(root)):
        if isinstance(node, Comment):
            if conditional_danger(_text_of(node)) and node.parent is not None:
                node.parent.remove_child(node)
            else:
                data = _protect_jinja(_text_of(node))
                if encode_tokens and "{{" in data and is_conditional(data):
                    data = url_tokens.encode_in_markup(data)
                node.data = data
        elif _unwanted_head_element(node):
            node.parent.remove_child(node)
        elif encode_tokens and getattr(node, "attrs", None):
            url_tokens.encode_attributes(node.attrs)
        elif isinstance(node, Text) and str(getattr(node.parent, "name", "")).lower() == "style":
            node.data = _protect_jinja(node.data or "")
    return mark_comments(root)


def mark_comments(root: Any) -> dict[str, str]:
    """Swap every comment's text for a unique marker; the markers and the texts to put
    back (:func:`unmark_comments`), since serialisers alter comment text Outlook reads."""
    comments: dict[str, str] = {}
    nonce = secrets.token_hex(8)
    for node in list(_walk(root)):
        if isinstance(node, Comment):
            marker = f"dc-comment-{nonce}-{len(comments)}"
            comments[f"<!--{marker}-->"] = _text_of(node)
            node.data = marker
    return comments


def unmark_comments(html: str, comments: dict[str, str]) -> str:
    for marker, data in comments.items():
        html = html.replace(marker, f"<!--{data}-->", 1)
    return html


def serialise(document: Any) -> str:
    """A JustHTML document as HTML, comments byte for byte."""
    comments = mark_comments(document.root)
    return unmark_comments(to_html(document.root, pretty=False), comments)


def _unwanted_head_element(node: Any) -> bool:
    """A stylesheet from a host other than a web-font service, a refresh or cookie
    ``<meta>``: the element goes whole (nh3 alone would leave it empty)."""
    name = str(node.name).lower()
    attrs = {k.lower(): v or "" for k, v in (getattr(node, "attrs", None) or {}).items()}
    if name == "link":
        return "stylesheet" in attrs.get("rel", "").lower() and not font_stylesheet(
            attrs.get("href", "")
        )
    if name == "meta" and "http-equiv" in attrs:
        return attrs["http-equiv"].strip().lower() not in _SAFE_HTTP_EQUIV
    return False


def is_conditional(comment: str) -> bool:
    """``[if mso]>...<![endif]``: content only Outlook (or old IE) reads."""
    return comment.lstrip().lower().startswith("[if") and "]>" in comment


@lru_cache(maxsize=1024)  # a campaign's messages share their comments
def conditional_danger(comment: str) -> str | None:
    """What in a conditional comment could run or exfiltrate, or None."""
    if not is_conditional(comment):
        return None
    inner = comment.split("]>", 1)[1]
    fragment = JustHTML(inner, fragment=True, sanitize=False)
    for node in _walk(fragment.root):
        name = str(node.name).lower()
        if name.startswith("#"):
            continue
        if name in CONTENT_TAGS or name in ("meta", "link", "base"):
            return f"<{name}>"
        if name == "style" and _runnable_css(node.to_text()):
            return "style that can run"
        for attribute, value in (getattr(node, "attrs", None) or {}).items():
            key = attribute.lower()
            if key.startswith("on"):
                return f"{key} attribute"
            if key in _URL_ATTRIBUTES and value and not _url_allowed(name, key, value):
                return f"{key} with a disallowed address"
            if key == "style" and value and _runnable_css(value):
                return "style that can run"
    return None


def _runnable_css(css: str) -> bool:
    compact = "".join(css.lower().split())
    return any(bad in compact for bad in ("expression(", "javascript:", "behavior:", "binding:"))


# --- what was removed --------------------------------------------------------------------


def _inventory(source: str) -> Counter[tuple[str, str]]:
    """How many of each element (``("<td>", "")``), attribute on an allowed element
    (``("<a>", "href attribute (javascript:)")``) and conditional comment ``source``
    holds."""
    counts: Counter[tuple[str, str]] = Counter()
    document = JustHTML(source, fragment=not is_document(source), sanitize=False)
    for node in _walk(document.root):
        name = str(node.name).lower()
        if isinstance(node, Comment):
            if is_conditional(_text_of(node)):
                danger = conditional_danger(_text_of(node))
                counts[(f"Outlook conditional comment with {danger or 'layout'}", "")] += 1
            continue
        if name.startswith("#") or name == "!doctype":
            continue
        counts[(f"<{name}>", "")] += 1
        if name not in TAGS:
            continue
        for attribute, value in (getattr(node, "attrs", None) or {}).items():
            key = attribute.lower()
            kind = _address_kind(value) if key in _URL_ATTRIBUTES else ""
            counts[(f"<{name}>", f"{key} attribute{kind}")] += 1
    return counts


def _removals(before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> list[Removed]:
    """What ``before`` has more of than ``after``; an element's attributes go with it
    unreported."""
    gone: Counter[str] = Counter()
    elements_gone = {e: n - after[(e, a)] for (e, a), n in before.items() if not a}
    for (element, attribute), n in before.items():
        lost = n - after[(element, attribute)]
        if attribute:
            lost -= elements_gone.get(element, 0)
        if lost > 0:
            gone[attribute or element] += lost
    return sorted((Removed(what, n) for what, n in gone.items()), key=lambda r: (-r.count, r.what))


def _address_kind(value: str | None) -> str:
    scheme, colon, _ = "".join((value or "").split()).lower().partition(":")
    if colon and scheme.isalpha():
        return f" ({scheme}:)"
    return ""


# --- CSS inlining --------------------------------------------------------------------------

#: Styles are inlined for clients that drop ``<style>`` blocks, and the blocks stay for the
#: others (media queries, ids, pseudo-classes); remote stylesheets are never fetched.
_INLINER = css_inline.CSSInliner(
    load_remote_stylesheets=False, keep_style_tags=True, keep_link_tags=True, keep_at_rules=True
)


def inline_css(source: str) -> str:
    """``source`` with its ``<style>`` rules also written inline, its doctype as written
    (the inliner writes ``<!DOCTYPE html>``, which changes how tables render)."""
    try:
        out = str(_INLINER.inline(source))
    except Exception:  # malformed CSS must not block a send; the HTML stays as it is
        return source
    doctype = _doctype(source)
    if doctype and out[:9].lower() == "<!doctype":
        out = doctype + out[out.index(">") + 1 :]
    elif doctype:
        out = doctype + out
    return out


def _doctype(source: str) -> str:
    start = source.lstrip()
    if start[:9].lower() != "<!doctype" or ">" not in start:
        return ""
    return start[: start.index(">") + 1]
