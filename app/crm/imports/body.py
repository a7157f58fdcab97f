"""An import request's body: a JSON array of rows or NDJSON, checked whole before any row
is looked at (a malformed body writes nothing)."""

from __future__ import annotations

import json
from typing import Any

from app.api.errors import ApiError

NDJSON = "application/x-ndjson"
DEFAULT_MAX_ROWS = 10_000


def too_many(max_rows: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"At most {max_rows} rows per call; split the import into batches",
        {"body": f"more than {max_rows} rows"},
    )


def parse_rows(data: bytes, mimetype: str, max_rows: int) -> list[Any]:
    """The rows of a JSON array or NDJSON body; 400 naming the line when it is not
    valid, 413 beyond ``max_rows``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_body", "Body is not UTF-8", {"body": str(exc)}) from exc
    if mimetype == NDJSON:
        rows: list[Any] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if len(rows) == max_rows:
                raise too_many(max_rows)
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ApiError(
                    400,
                    "malformed_json",
                    f"Line {number} is not valid JSON",
                    {f"line {number}": str(exc)},
                ) from exc
        return rows
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError as exc:
        raise ApiError(
            400, "malformed_json", "Body is not valid JSON", {"body": "invalid"}
        ) from exc
    if not isinstance(parsed, list):
        raise ApiError(
            422, "validation_error", "Send a JSON array of rows", {"body": "not an array"}
        )
    if len(parsed) > max_rows:
        raise too_many(max_rows)
    return parsed
