"""CSV files as a spreadsheet or an ERP writes them, turned into import rows as a stream.

The encoding is settled before any row is read (UTF-8 with or without a BOM, else
Windows-1252, what Excel writes; anything else is an error naming the byte), headers are
matched to fields by their usual spellings (``E-mail``, ``Customer #``, ``Account Name``)
or by ``--map``, and rows are yielded one at a time: memory stays flat however long the
file. An order's lines are consecutive rows sharing its order number.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SCAN_CHUNK = 1 << 20
#: bytes Windows-1252 leaves undefined: a file holding one is in neither encoding
CP1252_HOLES = frozenset(b"\x81\x8d\x8f\x90\x9d")


class CsvError(ValueError):
    """The file cannot be read as a whole (encoding, header): nothing is imported."""


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM or not) or ``cp1252``, after reading the whole file once in
    chunks; a CsvError naming the problem otherwise."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise CsvError("the file is UTF-16: save it as CSV UTF-8 and try again")
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset = 0
        utf8 = True
        cp1252_hole: int | None = None
        while chunk := handle.read(SCAN_CHUNK):
            if b"\x00" in chunk:
                at = offset + chunk.index(b"\x00")
                raise CsvError(f"byte {at} is NUL: this is not a text CSV file")
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if cp1252_hole is None:
                for hole in CP1252_HOLES:
                    if hole in chunk:
                        cp1252_hole = offset + chunk.index(hole)
                        break
            offset += len(chunk)
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        return "utf-8-sig"
    if cp1252_hole is not None:
        raise CsvError(
            f"the file is neither UTF-8 nor Windows-1252 (byte {cp1252_hole}): "
            "save it as CSV UTF-8 and try again"
        )
    return "cp1252"


def _key(header: str) -> str:
    """``Customer #`` -> ``customerno``; ``E-mail`` -> ``email``."""
    return re.sub(r"[^a-z0-9]", "", header.lower().replace("#", "no"))


_COMMON = {
    "email": ("email", "emailaddress", "mail"),
    "name": ("name", "fullname"),
    "active": ("active", "enabled"),
}
#: field -> header spellings (after _key), per entity
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "territories": {
        "externalId": ("externalid", "territoryid", "territorycode", "territoryno", "code", "id"),
        "name": ("name", "territory", "territoryname"),
        "timezone": ("timezone", "tz", "zone"),
    },
    "skus": {
        "externalId": ("externalid", "skuid", "itemid", "itemno", "productid", "productno", "id"),
        "code": ("code", "sku", "skucode", "itemcode", "productcode"),
        "name": ("name", "productname", "itemname", "wine", "description"),
        "producer": ("producer", "winery", "brand", "supplier"),
        "varietal": ("varietal", "grape", "variety"),
        "vintage": ("vintage", "year"),
        "region": ("region", "appellation"),
        "unitPrice": ("unitprice", "price", "listprice", "wholesaleprice"),
        "active": _COMMON["active"],
    },
    "customers": {
        "externalId": (
            "externalid", "customerid", "customerno", "customernumber", "accountid",
            "accountno", "accountnumber", "id",
        ),
        "name": ("name", "accountname", "customername", "company", "companyname", "account"),
        "email": _COMMON["email"],
        "phone": ("phone", "phonenumber", "telephone", "tel", "mobile"),
        "accountType": ("accounttype", "type"),
        "accountPriority": ("accountpriority", "priority"),
        "territory": ("territory", "territoryid", "territoryname", "salesterritory"),
        "rep": ("rep", "salesrep", "repemail", "repid", "owner", "accountowner"),
        "archived": ("archived",),
    },
    "users": {
        "externalId": ("externalid", "userid", "employeeid", "employeeno", "repid", "id"),
        "name": _COMMON["name"] + ("repname", "username"),
        "email": _COMMON["email"],
        "role": ("role",),
        "territory": ("territory", "territoryid", "territoryname"),
        "active": _COMMON["active"],
    },
    "orders": {
        "externalId": (
            "externalid", "orderid", "orderno", "ordernumber", "invoiceid", "invoiceno", "id",
        ),
        "customer": ("customer", "customerid", "customerno", "customernumber", "accountid"),
        "orderDate": ("orderdate", "date", "invoicedate"),
        "status": ("status", "orderstatus"),
        "rep": ("rep", "salesrep", "repemail", "repid"),
        "lines.sku": ("sku", "skuid", "itemid", "itemno", "itemcode", "productcode", "productid"),
        "lines.quantity": ("quantity", "qty"),
        "lines.unitPrice": ("unitprice", "price", "lineprice"),
    },
}  # fmt: skip
DECIMAL_FIELDS = {"unitPrice", "lines.unitPrice"}
DATE_FIELDS = {"orderDate"}


def field_names(entity: str) -> list[str]:
    extra = ["customFields.<key>"] if entity == "customers" else []
    return [*SYNONYMS[entity], *extra]


def match_columns(
    entity: str, headers: list[str], mapping: dict[str, str]
) -> tuple[dict[int, str], list[str]]:
    """Column position -> field, from ``mapping`` (header -> field, ``-`` to skip) first,
    then the usual spellings; and the headers left unused."""
    synonyms = SYNONYMS[entity]
    known = {spelling: name for name, spellings in synonyms.items() for spelling in spellings}
    unknown_maps = [h for h in mapping if h not in headers]
    if unknown_maps:
        raise CsvError(f"--map names no column of the file: {', '.join(unknown_maps)}")
    chosen: dict[int, str] = {}
    for at, header in enumerate(headers):
        target = mapping.get(header)
        if target == "-":
            continue
        if target is not None:
            if target not in synonyms and not (
                entity == "customers" and target.startswith("customFields.")
            ):
                raise CsvError(
                    f"--map {header}={target}: no field {target!r}; fields: "
                    + ", ".join(field_names(entity))
                )
            chosen[at] = target
    taken = set(chosen.values())
    for at, header in enumerate(headers):
        if at in chosen or mapping.get(header) == "-":
            continue
        name = known.get(_key(header))
        if name is not None and name not in taken:
            chosen[at] = name
            taken.add(name)
    unused = [header for at, header in enumerate(headers) if at not in chosen]
    return chosen, unused


@dataclass
class CsvSource:
    """The rows of one CSV file as import rows, with the file line each started on."""

    path: Path
    entity: str
    mapping: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    encoding: str = ""
    headers: list[str] = field(default_factory=list)
    columns: dict[int, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def open(self) -> None:
        """Settle the encoding and the columns; CsvError before any row is read."""
        self.read_header()
        self.match()

    def read_header(self) -> None:
        """Settle the encoding (unless already known) and read the header row."""
        if not self.encoding:
            self.encoding = detect_encoding(self.path)
        with self.path.open(encoding=self.encoding, newline="") as handle:
            self.headers = [h.strip() for h in next(csv.reader(handle), [])]
        if not any(self.headers):
            raise CsvError("the file has no header row")

    def match(self) -> None:
        """Columns to fields (``mapping`` first, then the usual spellings); CsvError when
        no column gives the external id."""
        self.columns, self.unused = match_columns(self.entity, self.headers, self.mapping)
        if "externalId" not in self.columns.values():
            raise CsvError(
                "no column gives the external id: name one with --map COLUMN=externalId "
                f"(columns: {', '.join(self.headers)})"
            )

    def rows(self) -> Iterator[tuple[int, dict[str, Any], list[str] | list[list[str]]]]:
        """(first file line, import row, raw cells of its lines) one at a time."""
        with self.path.open(encoding=self.encoding, newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            records = ((reader.line_num, cells) for cells in reader)
            if self.entity == "orders":
                yield from self._orders(records)
                return
            for line, cells in records:
                if any(cell.strip() for cell in cells):
                    yield line, self._row(cells), cells

    def _row(self, cells: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for at, name in self.columns.items():
            value = cells[at].strip() if at < len(cells) else ""
            if value == "":
                continue  # an empty cell leaves the field as it is
            value = self._convert(name, value)
            if name.startswith("customFields."):
                row.setdefault("customFields", {})[name.split(".", 1)[1]] = value
            else:
                row[name] = value
        return row

    def _convert(self, name: str, value: str) -> Any:
        if name in DECIMAL_FIELDS:
            return value.replace(",", "").lstrip("$€£ ")
        if name in DATE_FIELDS and self.date_format:
            try:
                return datetime.strptime(value, self.date_format).date().isoformat()
            except ValueError:
                return value  # the row is rejected naming the field
        return value

    def _orders(
        self, records: Iterator[tuple[int, list[str]]]
    ) -> Iterator[tuple[int, dict[str, Any], list[list[str]]]]:
        """Consecutive lines with the same order number make one order."""
        current: dict[str, Any] | None = None
        first_line, raw = 0, list[list[str]]()
        for line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            flat = self._row(cells)
            order = {k: v for k, v in flat.items() if not k.startswith("lines.")}
            item = {k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith("lines.")}
            if current is not None and order.get("externalId") == current.get("externalId"):
                current["lines"].append(item)
                raw.append(cells)
                continue
            if current is not None:
                yield first_line, current, raw
            current = {**order, "lines": [item] if item else []}
            first_line, raw = line, [cells]
        if current is not None:
            yield first_line, current, raw
