"""The plain-text part, readable: what a person reads in the HTML, not its plumbing.

Paragraphs, headings, list items and table rows become lines; a link's text is followed by
its address once (not at all when the text is the address); a link around an image reads
as the image's ``alt`` text and its address, or nothing when the image has none (no bare
tracking URLs); images, spacers, hidden preheaders, the head and Outlook's conditional
comments leave nothing; zero-width and spacer characters go.
"""

from __future__ import annotations

from typing import Any

from justhtml import JustHTML

from app.messaging.email_html import is_document

_SKIP = frozenset({"head", "style", "script", "title", "meta", "link", "img", "template"})
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "ul", "ol", "blockquote"}
    | {"center", "section", "article", "header", "footer", "address", "pre", "dl"}
)
_LINES = frozenset({"div", "tr", "li", "dt", "dd", "caption", "figcaption"})
#: Characters templates use as spacers (preheader padding, zero-width joiners).
_SPACERS = dict.fromkeys(map(ord, "\u034f\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACERS[0xA0] = " "


def html_to_text(source: str) -> str:
    """The readable plain-text part of an HTML email (tidied as ``rendering.tidy_text``)."""
    from app.messaging.rendering import tidy_text  # noqa: PLC0415 (rendering imports us)

    document = JustHTML(source, fragment=not is_document(source), sanitize=False)
    parts: list[str] = []
    _text(document.root, parts)
    return tidy_text("".join(parts).translate(_SPACERS))


def _text(node: Any, parts: list[str]) -> None:
    for child in node.children or ():
        name = str(child.name).lower()
        if name == "#text":
            parts.append(child.data or "")
            continue
        if name.startswith("#") or name == "!doctype" or name in _SKIP or _hidden(child):
            continue
        if name == "br":
            parts.append("\n")
            continue
        if name == "a":
            _link(child, parts)
            continue
        if name in _PARAGRAPHS:
            parts.append("\n\n")
        elif name == "li":
            parts.append("\n- ")
        elif name in ("td", "th"):
            parts.append(" ")
        _text(child, parts)
        if name in _PARAGRAPHS:
            parts.append("\n\n")
        elif name in _LINES:
            parts.append("\n")


def _link(link: Any, parts: list[str]) -> None:
    inner: list[str] = []
    _text(link, inner)
    text = " ".join("".join(inner).translate(_SPACERS).split())
    if not text:
        alts = [img.attrs.get("alt") or "" for img in link.query("img")]
        text = " ".join(" ".join(alts).split())
    href = ((link.attrs or {}).get("href") or "").strip()
    if not text:
        return  # an image link without words: no bare address
    parts.append(text)
    shown = href.split(":", 1)[1] if href.startswith(("mailto:", "tel:", "sms:")) else href
    if href and not href.startswith("#") and shown != text and href != text:
        parts.append(f" ({href})")


def _hidden(node: Any) -> bool:
    attrs = getattr(node, "attrs", None) or {}
    style = "".join((attrs.get("style") or "").lower().split())
    return "display:none" in style or "hidden" in attrs
