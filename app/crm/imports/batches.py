"""A CSV source worked in batches, and its rejected rows as CSV records: what the CLI and
the import page's background job share."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.crm.imports.csvfile import CsvSource

#: (first file line, import row, raw cells of its lines)
Item = tuple[int, dict[str, Any], list[Any]]
BATCH_ROWS = 2000


def batches(source: CsvSource, size: int = BATCH_ROWS, skip: int = 0) -> Iterator[list[Item]]:
    """The source's rows in lists of ``size``, after the first ``skip`` (done before)."""
    rows = itertools.islice(source.rows(), skip, None)
    while batch := list(itertools.islice(rows, size)):
        yield batch


def preview(source: CsvSource, count: int = 5) -> list[tuple[int, dict[str, Any]]]:
    """The first rows as the import will read them: (file line, row)."""
    return [(line, row) for line, row, _ in itertools.islice(source.rows(), count)]


@dataclass(frozen=True)
class Rejected:
    line: int
    external_id: str | None
    reasons: str
    #: the raw cells of each file line the row came from (an order spans several)
    lines: list[list[str]]


def rejected(entity: str, batch: list[Item], report: dict[str, Any]) -> Iterator[Rejected]:
    """The batch's rejected rows, with their file lines and reasons."""
    for result in report["rows"]:
        if result["result"] != "rejected":
            continue
        line, _, cells = batch[result["index"]]
        reasons = "; ".join(f"{k}: {v}" for k, v in result["errors"].items())
        yield Rejected(
            line, result["externalId"], reasons, cells if entity == "orders" else [cells]
        )


def rejects_header(source: CsvSource) -> list[str]:
    return ["line", *source.headers, "errors"]


def reject_records(item: Rejected) -> Iterator[list[Any]]:
    """The rejects CSV's records for one rejected row: its lines, each with the reason."""
    for cells in item.lines:
        yield [item.line, *cells, item.reasons]
