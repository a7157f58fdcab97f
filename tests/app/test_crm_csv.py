"""``flask crm import`` on real CSV files, written here as spreadsheets and ERPs write them."""

from __future__ import annotations

import csv
import tracemalloc
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.crm.imports.csvfile import CsvSource
from app.crm.models import Customer, Order, Sku, Territory
from app.extensions import db


def write_csv(path, rows, encoding="utf-8", bom=False):
    with path.open("w", encoding=encoding, newline="") as handle:
        if bom:
            handle.write("\ufeff")
        csv.writer(handle).writerows(rows)  # Excel's dialect: CRLF, quotes where needed
    return path


def run(app, *args):
    result = app.test_cli_runner().invoke(args=["crm", "import", *args])
    return result


@pytest.fixture
def book(app, territories):
    db.session.add_all(
        [
            Territory(name="Northwest", external_id="T-NW"),
            Sku(code="BAR-19", name="Barolo 2019", price=Decimal("42.50"), external_id="SKU-1"),
            Sku(code="CHA-22", name="Chablis 2022", price=Decimal("19.90"), external_id="SKU-2"),
        ]
    )
    db.session.commit()


EXCEL_ROWS = [
    ["Customer #", "Account Name", "E-mail", "Phone", "Territory", "Priority", "Notes"],
    ["C-1", "Café Lapin, Paris", "Chef@Cafe-Lapin.example.com", "(212) 555-0101", "T-NW",
     "HIGH", "Crème brûlée, every Friday"],
    ["C-2", "Bodega \u201cEl Toro\u201d", "", "", "North", "LOW", ""],
    ["C-3", "Bad Mail", "not-an-address", "", "North", "", ""],
]  # fmt: skip


def test_a_windows_1252_export_with_quoted_commas(app, book, tmp_path):
    path = write_csv(tmp_path / "accounts.csv", EXCEL_ROWS, encoding="cp1252")
    raw = path.read_bytes()
    assert b"Caf\xe9" in raw and b'"Caf\xe9 Lapin, Paris"' in raw and b"\x93El Toro\x94" in raw
    rejects = tmp_path / "rejects.csv"
    result = run(
        app, "customers", str(path), "--map", "Notes=customFields.notes",
        "--rejects", str(rejects),
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    assert "cp1252" in result.output and "Customer # -> externalId" in result.output
    assert "2 created" in result.output and "1 rejected" in result.output
    assert "line 4 (C-3): email:" in result.stderr
    cafe = db.session.scalar(select(Customer).where(Customer.external_id == "C-1"))
    assert cafe.name == "Café Lapin, Paris" and cafe.email == "chef@cafe-lapin.example.com"
    assert cafe.phone == "+12125550101" and cafe.account_priority == "HIGH"
    assert cafe.territory.name == "Northwest"
    assert cafe.custom_fields == {"notes": "Crème brûlée, every Friday"}
    toro = db.session.scalar(select(Customer).where(Customer.external_id == "C-2"))
    assert toro.name == "Bodega \u201cEl Toro\u201d" and toro.territory.name == "North"
    with rejects.open(encoding="utf-8", newline="") as handle:
        rejected = list(csv.reader(handle))
    assert rejected[0] == ["line", *EXCEL_ROWS[0], "errors"]
    assert rejected[1][:3] == ["4", "C-3", "Bad Mail"] and "email" in rejected[1][-1]

    # the same file again changes nothing
    again = run(app, "customers", str(path), "--map", "Notes=customFields.notes")
    assert "0 created, 0 updated, 2 unchanged, 1 rejected" in again.output


def test_utf8_with_a_bom_and_a_dry_run(app, book, tmp_path):
    rows = [
        ["Account ID", "Account Name", "Email Address", "Account Type"],
        ["C-9", "Weingut Müller", "info@mueller.example", "ACTIVE"],
    ]
    path = write_csv(tmp_path / "bom.csv", rows, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    dry = run(app, "customers", str(path), "--dry-run")
    assert dry.exit_code == 0 and "Dry run: 1 created" in dry.output
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
    real = run(app, "customers", str(path))
    assert "1 created" in real.output and "utf-8;" in real.output
    assert db.session.scalar(select(Customer.name)) == "Weingut Müller"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Customer #,Name\nC-1,Caf\u00e9\n".encode("utf-16"), "UTF-16"),
        (b"Customer #,Name\nC-1,Bad \x81 byte\n", "neither UTF-8 nor Windows-1252 (byte 24)"),
        (b"Customer #,Name\x00\n", "NUL"),
        (b"Colour,Name\nred,Bob\n", "no column gives the external id"),
        (b"", "no header row"),
    ],
)
def test_an_unreadable_file_is_refused_before_anything_is_written(
    app, book, tmp_path, content, message
):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = run(app, "customers", str(path))
    assert result.exit_code != 0 and message in result.stderr, result.stderr
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_bad_map_is_refused(app, book, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["Customer #", "Name"], ["C-1", "A"]])
    result = run(app, "customers", str(path), "--map", "Name=colour")
    assert result.exit_code != 0 and "no field 'colour'" in result.stderr
    result = run(app, "customers", str(path), "--map", "Nope=name")
    assert result.exit_code != 0 and "names no column" in result.stderr
    result = run(app, "customers", str(path), "--map", "broken")
    assert result.exit_code != 0 and "COLUMN=field" in result.stderr


def test_order_lines_make_orders_and_a_bad_line_rejects_its_order(app, book, tmp_path):
    run(app, "customers", str(write_csv(tmp_path / "c.csv", EXCEL_ROWS[:3], "cp1252")))
    rows = [
        ["Order No", "Customer #", "Invoice Date", "Item Code", "Qty", "Price"],
        ["O-1", "C-1", "11/30/2026", "BAR-19", "6", "$1,042.50"],
        ["O-1", "C-1", "11/30/2026", "SKU-2", "12", ""],
        ["O-2", "C-2", "12/01/2026", "BAR-19", "1", ""],
        ["O-2", "C-2", "12/01/2026", "NOPE", "1", ""],
        ["O-3", "C-404", "12/02/2026", "BAR-19", "1", ""],
    ]
    path = write_csv(tmp_path / "orders.csv", rows)
    rejects = tmp_path / "rejects.csv"
    result = run(app, "orders", str(path), "--date-format", "%m/%d/%Y", "--rejects", str(rejects))
    assert result.exit_code == 0, result.stderr
    assert "1 created" in result.output and "2 rejected" in result.output
    assert "line 4 (O-2): lines[1].sku: unknown SKU 'NOPE'" in result.stderr
    assert "line 6 (O-3): customer: unknown customer 'C-404'" in result.stderr
    order = db.session.scalar(select(Order).where(Order.external_id == "O-1"))
    assert order.order_date.isoformat() == "2026-11-30"
    assert order.total == Decimal("6255.00") + Decimal("238.80")
    assert order.customer.lifetime_revenue == order.total
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    with rejects.open(encoding="utf-8", newline="") as handle:
        lines = [r[:2] for r in csv.reader(handle)][1:]
    assert lines == [["4", "O-2"], ["4", "O-2"], ["6", "O-3"]]


def test_rows_stream_in_bounded_memory(app, tmp_path):
    def peak(count):
        path = tmp_path / f"big{count}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Customer #", "Account Name", "E-mail"])
            for n in range(count):
                writer.writerow([f"C-{n}", f"Account {n}, Ltd", f"a{n}@example.com"])
        source = CsvSource(path, "customers")
        source.open()
        tracemalloc.start()
        seen = sum(1 for _ in source.rows())
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert seen == count
        return high

    small, large = peak(2_000), peak(40_000)
    assert large < small * 1.5 + 64 * 1024, (small, large)
