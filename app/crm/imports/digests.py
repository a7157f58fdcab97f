"""A digest of the source row last applied to each imported record.

A sync replays the same rows every day, nearly all unchanged. Validating, normalising and
diffing each of them costs the same as importing it; comparing a digest of the raw row
with the one stored when it was last applied costs a hash and one query a batch. So a row
whose digest equals its record's is ``unchanged`` without being parsed.

The stored digest stands for "this row was applied and nothing the import writes has been
edited in Decant since": every ORM update of such a column clears it (the listener
below), and the import writes only through Core statements that set it. A cleared or
missing digest sends the row through the full path, which restores the source's values
(``updated``) or finds nothing to change (``unchanged``, and the digest is stored again).
References are resolved when a row is applied: renaming a territory or repricing a SKU
does not reopen the rows that named them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, event, inspect

from app.crm.imports import engine
from app.crm.imports.engine import Row

#: bump when the way a row becomes a record changes: every stored digest is then stale
VERSION = "1"
#: keys sorted: the same row in another key order is the same row
_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def of(entity: str, raw: Any) -> str | None:
    """The digest of one raw row (as parsed from JSON, NDJSON or CSV); None for a row that
    is not plain JSON data (it takes the full path and is rejected there)."""
    if not isinstance(raw, dict):
        return None
    try:
        text = _canonical(raw)
    except (TypeError, ValueError):
        return None
    seed = f"{VERSION}:{entity}:{text}".encode()
    return hashlib.blake2b(seed, digest_size=16).hexdigest()


def of_texts(entity: str, texts: Iterable[str]) -> list[str | None]:
    """The digests of rows' own JSON texts (an API body's elements or NDJSON lines): the
    same payload sent again hashes the same without serialising anything. The same row
    written differently (spacing, key order) misses and takes the full path once."""
    seeded = hashlib.blake2b(f"{VERSION}:{entity}:".encode(), digest_size=16)
    out: list[str | None] = []
    for text in texts:
        digest = seeded.copy()
        digest.update(text.encode())
        out.append(digest.hexdigest())
    return out


def settle_unchanged(
    table: Table, raw_rows: Sequence[Any], digests: Sequence[str | None]
) -> dict[int, Row]:
    """The rows whose record (by external id) holds their digest, as ``unchanged`` results,
    by index. An external id given twice in the batch is left to the full path, which
    rejects the repeat."""
    externals: dict[int, str] = {}
    for index, (raw, digest) in enumerate(zip(raw_rows, digests, strict=True)):
        if (
            digest is not None
            and isinstance(raw, dict)
            and isinstance(external := raw.get("externalId"), str)
        ):
            externals[index] = external
    counts = Counter(externals.values())
    stored = {
        external: (public_id, digest)
        for external, public_id, digest in engine.fetch_in(
            (table.c.external_id, table.c.public_id, table.c.import_digest),
            table.c.external_id,
            [external for external, count in counts.items() if count == 1],
        )
    }
    settled: dict[int, Row] = {}
    for index, external in externals.items():
        public_id, digest = stored.get(external, (None, None))
        if digest is not None and digest == digests[index]:
            settled[index] = Row(
                index, result=engine.UNCHANGED, public_id=public_id, external_id=external
            )
    return settled


def forget_on_edit(model: type, imported: Iterable[str]) -> None:
    """Clear ``model``'s digest whenever an ORM update changes one of the ``imported``
    columns (an edit in Decant: the next replay must take the full path)."""
    columns = frozenset(imported)

    @event.listens_for(model, "before_update")
    def _forget(mapper: Any, connection: Any, target: Any) -> None:
        state = inspect(target)
        if state.attrs.import_digest.history.has_changes():
            return
        if any(state.attrs[name].history.has_changes() for name in columns):
            target.import_digest = None
