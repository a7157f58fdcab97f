"""MJML templates: compile MJML to email HTML with MRML (the Rust port of MJML).

A compile error is an :class:`~app.errors.Invalid` naming the line of the ``mjml`` field.
MRML gives a byte position for some errors and none for others, so the line is found
from what it gives: its position; for a document that ends too soon, the MJML element
left open (read with the standard library's HTML tokenizer); for a token it cannot read,
the shortest run of first lines that MRML refuses the same way. ``mj-include`` is refused:
a template is self-contained, and the compiler never reads a file or the network.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import mrml

from app.errors import Invalid

FIELD = "mjml"
_POSITION = re.compile(r" at position (\d+):(\d+)$")
_END_OF_STREAM = "unexpected end of stream"


class MjmlError(Exception):
    """MRML refused a document: its message and, when it gave one, the byte position."""

    def __init__(self, message: str, start: int | None, end: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


def _parser_options() -> mrml.ParserOptions:
    return mrml.ParserOptions(include_loader=mrml.noop_loader())


def _run(source: str) -> str:
    try:
        return str(mrml.to_html(source, parser_options=_parser_options()).content)
    except OSError as exc:  # MRML's Python binding raises every parse error as OSError
        text = str(exc)
        found = _POSITION.search(text)
        if found is None:
            raise MjmlError(text, None, None) from exc
        message = text[: found.start()]
        raise MjmlError(message, int(found.group(1)), int(found.group(2))) from exc


def compile_mjml(source: str | None) -> str:
    """The HTML of an MJML document; :class:`Invalid` naming the line if it does not
    compile."""
    if not source or not source.strip():
        raise Invalid("MJML is required", {FIELD: "an MJML document is required"})
    try:
        return _run(source)
    except MjmlError as exc:
        line, what = describe(source, exc)
        raise Invalid("The MJML does not compile", {FIELD: f"line {line}: {what}"}) from exc


def describe(source: str, error: MjmlError) -> tuple[int, str]:
    """(line, what went wrong in words) for a compile error of ``source``."""
    encoded = source.encode("utf-8")
    if error.start is not None:
        line = encoded[: error.start].count(b"\n") + 1
        snippet = encoded[error.start : error.end].decode("utf-8", "replace").strip()
        if error.message.startswith("unable to load included template"):
            return line, "mj-include is not supported: a template holds all of its MJML"
        if error.message.startswith("unexpected element"):
            return line, f"<{snippet.lstrip('<')}> is not allowed here"
        if error.message.startswith("unexpected token"):
            return line, f"unexpected {snippet!r}"
        return line, f"{error.message} ({snippet!r})"
    if error.message.startswith(_END_OF_STREAM):
        open_at = _unclosed_element(source)
        if open_at is not None:
            tag, line = open_at
            return line, f"<{tag}> is never closed"
        return source.count("\n") + 1, "the document ends before its elements are closed"
    if error.message.startswith("unable to find mjml element"):
        return 1, "the document must be an <mjml> element"
    line = _first_refused_line(source, error.message)
    if error.message.startswith("unable to parse next template"):
        return line, "malformed markup (an unquoted attribute, a stray '<' or an open comment?)"
    return line, error.message


class _OpenElements(HTMLParser):
    """MJML elements opened and not closed, with the line each was opened on."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.unclosed: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "mjml" or tag.startswith("mj-"):
            self.stack.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if not any(name == tag for name, _ in self.stack):
            return
        while self.stack:
            name, line = self.stack.pop()
            if name == tag:
                return
            if self.unclosed is None:  # closed by an outer element's end tag
                self.unclosed = (name, line)


def _unclosed_element(source: str) -> tuple[str, int] | None:
    reader = _OpenElements()
    reader.feed(source)
    reader.close()
    if reader.unclosed is not None:
        return reader.unclosed
    return reader.stack[-1] if reader.stack else None


def _refused_as(source: str, message: str) -> bool:
    try:
        _run(source)
    except MjmlError as exc:
        return exc.message == message
    return False


def _first_refused_line(source: str, message: str) -> int:
    """The fewest first lines MRML refuses with ``message``: the line it cannot read
    (earlier prefixes stop at the end of the stream instead)."""
    lines = source.splitlines(keepends=True)
    low, high = 1, len(lines)
    while low < high:
        middle = (low + high) // 2
        if _refused_as("".join(lines[:middle]), message):
            high = middle
        else:
            low = middle + 1
    return high
