"""The import page through the test client: upload, mapping, preview, dry run, run in the
background (inline here), report and rejected rows; bad files; who may; CSRF; the log."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.crm.imports.import_log import ImportRun
from app.crm.models import Customer, Territory
from app.extensions import db
from tests.conftest import csrf_from

HEADER = ["Customer #", "Account Name", "E-mail", "Sales Region", "Notes"]
ROWS = [
    ["C-1", "Café Lapin, Paris", "chef@cafe-lapin.example.com", "T-NW", "Crème brûlée"],
    ["C-2", "Bodega El Toro", "", "T-NW", ""],
    ["C-3", "Bad Mail", "not-an-address", "T-NW", ""],
    ["C-4", "Vinoteca", "hola@vinoteca.example.com", "T-NOWHERE", ""],
]


def csv_bytes(rows, encoding="utf-8", bom=False) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode(encoding)


@pytest.fixture
def northwest(app, territories):
    db.session.add(Territory(name="Northwest", external_id="T-NW"))
    db.session.commit()


def upload(client, data: bytes, entity="customers", name="accounts.csv", token=None):
    page = client.get("/sales/import")
    assert page.status_code == 200
    form = {"entity": entity, "file": (io.BytesIO(data), name)}
    if token is not False:
        form["csrf_token"] = token or csrf_from(page.get_data(as_text=True))
    return client.post("/sales/import", data=form, content_type="multipart/form-data")


def import_id(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[1]


def selected(html: str, at: int) -> str:
    select_html = re.search(rf'<select[^>]*name="col-{at}".*?</select>', html, re.S).group(0)
    return re.search(r'<option value="([^"]*)" selected', select_html).group(1)


def submit_mapping(client, public_id, action, mapping: dict[int, str], **extra):
    html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    form = {"csrf_token": csrf_from(html), "action": action, **extra}
    form.update({f"col-{at}": value for at, value in mapping.items()})
    return client.post(f"/sales/import/{public_id}", data=form)


MAPPING = {0: "externalId", 1: "name", 2: "email", 3: "territory", 4: "customFields.notes"}


def test_upload_map_dry_run_run_and_the_report(app, client, login, manager, northwest):
    login(manager)
    public_id = import_id(upload(client, csv_bytes([HEADER, *ROWS])))
    html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    # the usual spellings are matched; an unknown header is skipped until mapped
    assert [selected(html, at) for at in range(5)] == ["externalId", "name", "email", "-", "-"]
    assert "Café Lapin, Paris" in html  # the first rows, as they will be read

    response = submit_mapping(client, public_id, "save", MAPPING)
    assert response.status_code == 302
    html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    assert selected(html, 3) == "territory" and selected(html, 4) == "customFields.notes"
    assert "<th>customFields.notes</th>" in html and "<td>Crème brûlée</td>" in html

    response = submit_mapping(client, public_id, "dry-run", MAPPING)
    assert response.status_code == 302
    entry = db.session.scalar(select(ImportRun).where(ImportRun.public_id == public_id))
    assert (entry.status, entry.dry_run) == ("dry-run", True)
    assert entry.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert db.session.scalar(select(func.count(Customer.id))) == 0  # a dry run writes nothing
    html = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    assert "Dry run: what the import would do" in html
    assert "not-an-address" in html and "T-NOWHERE" in html  # the rejected rows and why

    response = submit_mapping(client, public_id, "run", MAPPING)
    assert response.status_code == 302
    db.session.expire_all()
    assert (entry.status, entry.dry_run, entry.progress) == ("done", False, 100)
    assert entry.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert (entry.rows_done, entry.rows_total) == (4, 4)
    lapin = db.session.scalar(select(Customer).where(Customer.external_id == "C-1"))
    assert lapin.name == "Café Lapin, Paris" and lapin.territory.name == "Northwest"
    assert lapin.custom_fields == {"notes": "Crème brûlée"}

    download = client.get(f"/sales/import/{public_id}/rejects.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    records = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert records[0] == ["line", *HEADER, "errors"]
    assert [r[:2] for r in records[1:]] == [["4", "C-3"], ["5", "C-4"]]
    assert "email" in records[1][-1] and "territory" in records[2][-1]

    status = client.get(f"/sales/import/{public_id}/status").get_json()
    assert status["status"] == "done" and status["progress"] == 100
    log_page = client.get("/sales/import").get_data(as_text=True)
    assert f'data-testid="import-{public_id}"' in log_page and "accounts.csv" in log_page
    listed = client.get("/api/sales/imports").get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["id"] == public_id and item["by"] == manager.email and item["source"] == "page"
    assert (item["created"], item["rejected"], item["rowsDone"]) == (2, 2, 4)
    assert client.get(f"/api/sales/imports/{public_id}").get_json()["status"] == "done"

    # the same file again: nothing changes
    submit_mapping(client, public_id, "run", MAPPING)
    db.session.expire_all()
    assert entry.counts == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 2}


def test_a_windows_1252_file_with_a_bom_less_header(app, client, login, admin, northwest):
    login(admin)
    public_id = import_id(upload(client, csv_bytes([HEADER, ROWS[0]], encoding="cp1252")))
    submit_mapping(client, public_id, "run", MAPPING)
    lapin = db.session.scalar(select(Customer).where(Customer.external_id == "C-1"))
    assert lapin.name == "Café Lapin, Paris" and lapin.custom_fields == {"notes": "Crème brûlée"}
    entry = db.session.scalar(select(ImportRun))
    assert entry.encoding == "cp1252"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        (b"Customer #,Name\nC-1,Caf\x81\n", "neither UTF-8 nor Windows-1252"),
        (b"Customer #,Name\nC-1,\x00\n", "NUL"),
        (b"", "no header row"),
    ],
)
def test_an_unreadable_file_is_refused_before_anything_is_written(
    app, client, login, admin, data, message
):
    login(admin)
    folder = Path(app.instance_path) / "imports"
    before = set(folder.iterdir()) if folder.exists() else set()
    response = upload(client, data, name="export.csv")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-testid="error-file"' in html and message in html and "export.csv" in html
    assert db.session.scalar(select(func.count(ImportRun.id))) == 0
    assert (set(folder.iterdir()) if folder.exists() else set()) == before  # no file kept


def test_the_upload_form_names_what_is_missing(app, client, login, admin):
    login(admin)
    response = upload(client, b"", entity="wines")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-testid="error-entity"' in html
    page = client.get("/sales/import").get_data(as_text=True)
    response = client.post(
        "/sales/import", data={"entity": "customers", "csrf_token": csrf_from(page)}
    )
    assert response.status_code == 400 and 'data-testid="error-file"' in response.get_data(
        as_text=True
    )
    assert db.session.scalar(select(func.count(ImportRun.id))) == 0


def test_a_mapping_without_an_external_id_or_with_a_field_twice_is_refused(
    app, client, login, admin, northwest
):
    login(admin)
    public_id = import_id(upload(client, csv_bytes([HEADER, *ROWS])))
    for mapping, error in (
        ({**MAPPING, 0: "-"}, "Map one column to externalId"),
        ({**MAPPING, 2: "name"}, "name is already read from Account Name"),
        ({**MAPPING, 2: "password"}, "no field"),
    ):
        response = submit_mapping(client, public_id, "run", mapping)
        assert response.status_code == 400
        assert error in response.get_data(as_text=True)
    entry = db.session.scalar(select(ImportRun))
    assert entry.status == "mapped" and entry.mapping["E-mail"] == "email"
    assert db.session.scalar(select(func.count(Customer.id))) == 0


def test_forms_need_the_csrf_token(app, client, login, admin, northwest):
    login(admin)
    assert upload(client, csv_bytes([HEADER, *ROWS]), token=False).status_code == 400
    assert db.session.scalar(select(func.count(ImportRun.id))) == 0
    public_id = import_id(upload(client, csv_bytes([HEADER, *ROWS])))
    form = {"action": "run", **{f"col-{at}": v for at, v in MAPPING.items()}}
    assert client.post(f"/sales/import/{public_id}", data=form).status_code == 400
    assert client.post(f"/sales/import/{public_id}/resume").status_code == 400
    assert db.session.scalar(select(func.count(Customer.id))) == 0


def test_reps_may_not_and_managers_do_not_import_users(
    app, client, login, admin, manager, rep, northwest, token_headers
):
    login(admin)
    users_csv = csv_bytes(
        [["Employee #", "Name", "E-mail", "Role"], ["E-1", "Ann", "ann@x.example.com", "rep"]]
    )
    users_import = import_id(upload(client, users_csv, entity="users"))
    customers_import = import_id(upload(client, csv_bytes([HEADER, *ROWS])))

    rep_client = app.test_client()
    login(rep, target=rep_client)
    for url in (
        "/sales/import",
        f"/sales/import/{customers_import}",
        f"/sales/import/{customers_import}/status",
        f"/sales/import/{customers_import}/rejects.csv",
    ):
        assert rep_client.get(url).status_code == 403, url
    assert "Import</a>" not in rep_client.get("/sales/customers").get_data(as_text=True)
    for url in ("/api/sales/imports", f"/api/sales/imports/{customers_import}"):
        response = client.get(url, headers=token_headers(rep))
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"

    manager_client = app.test_client()
    login(manager, target=manager_client)
    assert "Import</a>" in manager_client.get("/sales/customers").get_data(as_text=True)
    page = manager_client.get("/sales/import").get_data(as_text=True)
    assert '<option value="users"' not in page and users_import not in page
    assert manager_client.get(f"/sales/import/{users_import}").status_code == 404
    assert upload(manager_client, users_csv, entity="users").status_code == 400
    api = client.get(f"/api/sales/imports/{users_import}", headers=token_headers(manager))
    assert api.status_code == 404
    listed = client.get("/api/sales/imports", headers=token_headers(manager)).get_json()
    assert [i["id"] for i in listed["items"]] == [customers_import]


def test_api_and_cli_imports_are_logged(app, client, admin, token_headers, northwest, tmp_path):
    rows = [{"externalId": "C-9", "name": "Nine"}, {"externalId": "C-10", "email": "bad"}]
    response = client.post("/api/sales/import/customers", json=rows, headers=token_headers(admin))
    assert response.status_code == 200
    path = tmp_path / "skus.csv"
    path.write_bytes(
        csv_bytes([["SKU ID", "Code", "Name", "Price"], ["S-1", "BAR-19", "Barolo", "42.50"]])
    )
    result = app.test_cli_runner().invoke(args=["crm", "import", "skus", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    logged = db.session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert [(e.source, e.actor, e.entity, e.status) for e in logged] == [
        ("api", admin.email, "customers", "done"),
        ("cli", "cli", "skus", "dry-run"),
    ]
    assert (logged[0].created, logged[0].rejected) == (1, 1)
    assert (logged[1].created, logged[1].file_name, logged[1].dry_run) == (1, "skus.csv", True)
    listed = client.get("/api/sales/imports", headers=token_headers(admin)).get_json()
    assert [i["source"] for i in listed["items"]] == ["cli", "api"]  # newest first


def test_a_users_import_shows_the_new_users_invite_links_once(app, client, login, admin, northwest):
    """As the API answers inviteUrl once, the page shows the admin who ran the import the
    links of the users it created, once; each lets its user set a password."""
    login(admin)
    users_csv = csv_bytes(
        [
            ["Employee #", "Name", "E-mail", "Role", "Region"],
            ["E-1", "Ann Rep", "ann@x.example.com", "rep", "T-NW"],
            ["E-2", "Bob Boss", "bob@x.example.com", "manager", ""],
            ["E-3", "No Region", "nor@x.example.com", "rep", ""],
        ]
    )
    public_id = import_id(upload(client, users_csv, entity="users"))
    mapping = {0: "externalId", 1: "name", 2: "email", 3: "role", 4: "territory"}
    assert submit_mapping(client, public_id, "dry-run", mapping).status_code == 302
    dry = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    assert 'data-testid="invite-links"' not in dry  # a dry run makes nobody
    assert submit_mapping(client, public_id, "run", mapping).status_code == 302
    page = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    assert 'data-testid="invite-links"' in page, page[:3000]
    urls = re.findall(r'value="(http://localhost/invite/[^"]+)"', page)
    assert len(urls) == 2  # Ann and Bob; the rep without a region was rejected
    assert "ann@x.example.com" in page and "bob@x.example.com" in page
    # once: a reload shows none
    again = client.get(f"/sales/import/{public_id}").get_data(as_text=True)
    assert 'data-testid="invite-links"' not in again and "/invite/" not in again
    # a link works: Ann sets her password through it
    invited = app.test_client()
    path = urlsplit(urls[0].replace("&amp;", "&")).path
    form = invited.get(path)
    assert form.status_code == 200
    done = invited.post(
        path,
        data={
            "password": "a long enough password",
            "confirm": "a long enough password",
            "csrf_token": csrf_from(form.get_data(as_text=True)),
        },
    )
    assert done.status_code in (302, 303)
    from app.auth.models import User

    db.session.expire_all()
    set_by_link = db.session.scalar(select(User.password_hash).where(User.name == "Ann Rep"))
    assert set_by_link is not None
