"""An import request's body: a JSON array of rows or NDJSON, checked whole before any row
is looked at (a malformed body writes nothing).

Each row comes with the digest of its own text (app/crm/imports/digests.py): a replay of
the same payload is then recognised by hashing bytes, not by serialising every parsed row
again. The array is read element by element with the standard library's decoder, which
gives each element's end; anything it does not accept is parsed again whole with
``json.loads`` for the error message.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.crm.imports import digests
from app.errors import Invalid

NDJSON = "application/x-ndjson"
DEFAULT_MAX_ROWS = 10_000
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_WHITE = frozenset(" \t\n\r")


def too_many(max_rows: int) -> Invalid:
    return Invalid(
        f"At most {max_rows} rows per call; split the import into batches",
        {"body": f"more than {max_rows} rows"},
        code="payload_too_large",
        status=413,
    )


def parse_rows(
    data: bytes, mimetype: str, max_rows: int, entity: str = ""
) -> tuple[list[Any], list[str | None]]:
    """The rows of a JSON array or NDJSON body and the digest of each row's text; 400
    naming the line when it is not valid, 413 beyond ``max_rows``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "Body is not UTF-8", {"body": str(exc)}, code="malformed_body", status=400
        ) from exc
    if mimetype == NDJSON:
        return _ndjson(text, max_rows, entity)
    try:
        return _array(text, max_rows, entity)
    except (ValueError, RecursionError):
        pass  # not an array the fast reader takes: say why, from a whole parse
    try:
        rows = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError) as exc:
        raise Invalid(
            "Body is not valid JSON", {"body": "invalid"}, code="malformed_json", status=400
        ) from exc
    if not isinstance(rows, list):
        raise Invalid("Send a JSON array of rows", {"body": "not an array"})
    if len(rows) > max_rows:
        raise too_many(max_rows)
    return rows, [digests.of(entity, row) for row in rows]


def _ndjson(text: str, max_rows: int, entity: str) -> tuple[list[Any], list[str | None]]:
    rows: list[Any] = []
    row_digests: list[str | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if len(rows) == max_rows:
            raise too_many(max_rows)
        try:
            rows.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raise Invalid(
                f"Line {number} is not valid JSON",
                {f"line {number}": str(exc)},
                code="malformed_json",
                status=400,
            ) from exc
        row_digests.append(line)
    return rows, digests.of_texts(entity, row_digests)  # type: ignore[arg-type]


def _array(text: str, max_rows: int, entity: str) -> tuple[list[Any], list[str | None]]:
    """A JSON array's elements and the digests of their texts; ValueError when the text
    is not one JSON array (413 as soon as it holds too many)."""
    space = _SPACE.match
    at = space(text).end()  # type: ignore[union-attr]
    if text[at : at + 1] != "[":
        raise ValueError("not an array")
    at = space(text, at + 1).end()  # type: ignore[union-attr]
    rows: list[Any] = []
    spans: list[str] = []
    scan = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner raw_decode uses
    if text[at : at + 1] == "]":
        at += 1
    else:
        while True:
            if len(rows) == max_rows:
                raise too_many(max_rows)
            try:
                row, end = scan(text, at)
            except StopIteration as exc:
                raise ValueError("expected a value") from exc
            rows.append(row)
            spans.append(text[at:end])
            if text.startswith(",", end):  # the usual separator, without spaces
                at = end + 1
                if text[at : at + 1] in _WHITE:
                    at = space(text, at).end()  # type: ignore[union-attr]
                continue
            at = space(text, end).end()  # type: ignore[union-attr]
            mark = text[at : at + 1]
            at += 1
            if mark == "]":
                break
            if mark != ",":
                raise ValueError("expected , or ]")
            at = space(text, at).end()  # type: ignore[union-attr]
    if space(text, at).end() != len(text):  # type: ignore[union-attr]
        raise ValueError("text after the array")
    return rows, digests.of_texts(entity, spans)
