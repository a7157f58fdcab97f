"""CSV imports under bad input: malformed, binary, mis-encoded or oversized files are
refused with a report naming the problem, and nothing is written."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.conftest import app_settings, csrf_from
from tests.security.conftest import diff, snapshot

LIMIT = 4096
LISTS = "/api/sales/marketing/lists"


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    return app_settings(database_url, LIST_IMPORT_MAX_BYTES=LIMIT, MAX_CONTENT_LENGTH=64 * 1024)


@pytest.fixture
def target(api, manager, make_customer) -> str:
    make_customer("North", email="ann@shop.example")
    response = api(manager, "post", LISTS, json={"name": "Imports"})
    assert response.status_code == 201
    return response.get_json()["id"]


BAD_FILES = {
    "latin-1": ("email,name\nann@shop.example,Émile Café\n".encode("latin-1"), "UTF-8"),
    "utf-16": ("email\nann@shop.example\n".encode("utf-16"), "UTF-8"),
    "cp1252 smart quotes": (
        "email,note\nann@shop.example,\u201cx\u201d\n".encode("cp1252"),
        "UTF-8",
    ),
    "binary png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "UTF-8"),
    "nul bytes": (b"email\nann@shop.example\x00\x00\n", "NUL"),
    "no email column": (b"name,phone\nAnn,+1212\n", "email column"),
    "empty file": (b"", "email column"),
    "only a BOM": (b"\xef\xbb\xbf", "email column"),
    "unbalanced quotes": (b'email,name\n"ann@shop.example,Ann\nbob@shop.example,Bob\n', "quot"),
    "quote in the middle": (b'email,name\nann@shop.example,"An"n"\n', "quot"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_files_are_refused_naming_the_problem(api, manager, target, case):
    data, needle = BAD_FILES[case]
    before = snapshot()
    response = api(
        manager,
        "post",
        f"{LISTS}/{target}/import",
        data={"file": (io.BytesIO(data), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, (case, response.status_code, response.get_json())
    error = response.get_json()["error"]
    assert needle.lower() in error["fields"]["file"].lower(), error
    assert not diff(before, snapshot())


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT * 4, 60 * 1024, 200 * 1024])
def test_oversized_files_are_413_in_the_envelope(api, manager, target, size):
    before = snapshot()
    data = (b"email\n" + b"ann@shop.example\n" * (size // 17 + 1))[:size]
    response = api(
        manager,
        "post",
        f"{LISTS}/{target}/import",
        data={"file": (io.BytesIO(data), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413, response.status_code
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large" and error["message"]
    assert not diff(before, snapshot())


def test_missing_file_field_is_422_naming_file(api, manager, target):
    response = api(
        manager,
        "post",
        f"{LISTS}/{target}/import",
        data={"other": (io.BytesIO(b"email\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("case", ["latin-1", "no email column", "unbalanced quotes", "huge"])
def test_page_import_reports_the_problem_and_writes_nothing(client, login, manager, target, case):
    login(manager)
    page = client.get(f"/sales/marketing/lists/{target}")
    data = b"email\n" + b"x" * (LIMIT + 10) if case == "huge" else BAD_FILES[case][0]
    before = snapshot()
    response = client.post(
        f"/sales/marketing/lists/{target}/import",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "file": (io.BytesIO(data), "people.csv"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code in (200, 413, 422)
    html = response.get_data(as_text=True)
    expected = {"huge": "KiB", "unbalanced quotes": "quot"}.get(case) or BAD_FILES[case][1]
    assert expected.lower() in html.lower(), html[:2000]
    assert not diff(before, snapshot())


def test_another_territorys_address_is_answered_like_an_unknown_one(api, make_user, make_customer):
    """No territory oracle: a rep cannot learn which addresses are customers elsewhere."""
    make_customer("South", email="south@shop.example")
    rep = make_user("rep", "North")
    lst = api(rep, "post", LISTS, json={"name": "Probe"}).get_json()["id"]
    data = b"email\nsouth@shop.example\nnobody@shop.example\n"
    response = api(
        rep,
        "post",
        f"{LISTS}/{lst}/import?dryRun=true",
        data={"file": (io.BytesIO(data), "probe.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["matched"] == 0
    south, nobody = report["rejected"]
    assert {k: v for k, v in south.items() if k not in ("line", "email")} == {
        k: v for k, v in nobody.items() if k not in ("line", "email")
    }
