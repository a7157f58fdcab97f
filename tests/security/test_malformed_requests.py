"""Malformed requests are 4xx naming the problem on every route, pages included, and
write nothing: a NUL anywhere (PostgreSQL refuses it in text: a 500 before the guard), a
multipart body without a boundary, a non-JSON body for an operation that takes JSON.
(The OpenAPI operations are walked by test_api_fuzz.py; this covers the page routes and
what the answers say.)"""

from __future__ import annotations

import io

import pytest

from tests.conftest import csrf_from
from tests.security.conftest import concrete, diff, rule_params, snapshot

NUL = "\x00"


def _post_rules(app, world) -> list[tuple[str, str]]:
    values = {**world.ids, "job_id": ["job-x"], "sku_id": ["sku_x"], "template_id": ["x"]}
    values.update(token=["not-a-token"], sync_id=["syn_x"], secret=["nope"], number=["0"])
    values.update(name=["x"], provider=["sendgrid"])
    rules = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()) or rule.rule.startswith("/api/"):
            continue
        params = {p: (values.get(p) or ["x"])[0] for p in rule_params(rule.rule)}
        rules.append((rule.endpoint, concrete(rule.rule, params)))
    return rules


@pytest.mark.parametrize(
    "label, data, content_type",
    [
        ("no boundary", b"--x\r\n\r\nv\r\n--x--\r\n", "multipart/form-data"),
        ("empty boundary", b"--x\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary="),
        (
            "NUL in a multipart field",
            b'--zz\r\nContent-Disposition: form-data; name="email"\r\n\r\na\x00b\r\n--zz--\r\n',
            "multipart/form-data; boundary=zz",
        ),
        ("NUL in a form field", b"email=a%00b&password=x", "application/x-www-form-urlencoded"),
    ],
)
def test_every_page_post_refuses_malformed_bodies(
    app, client, login, manager, world, label, data, content_type
):
    login(manager)
    before = snapshot()
    problems = []
    rules = _post_rules(app, world)
    for endpoint, url in rules:
        response = client.post(url, data=data, content_type=content_type)
        if not 400 <= response.status_code < 500:
            problems.append(f"{endpoint} {url}: {response.status_code}")
    assert len(rules) >= 10
    assert not problems, "\n".join(problems)
    assert not diff(before, snapshot())


def test_nul_in_a_json_string_is_422_naming_the_field(api, manager):
    before = snapshot()
    response = api(manager, "post", "/api/sales/customers", json={"name": "Ann" + NUL})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"name": "contains a NUL character"}
    response = api(
        manager,
        "post",
        "/lists/preview",
        json={"criteria": {"all": [{"type": "account_type", "accountType": NUL}]}},
    )
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["criteria.all[0].accountType"]
    response = api(manager, "post", "/api/sales/customers", json={"name": "A", "x\x00": 1})
    assert list(response.get_json()["error"]["fields"]) == ["x\\x00"]
    assert not diff(before, snapshot())


def test_nul_in_json_is_found_in_every_encoding_json_allows(api, manager):
    """The guard skips walking UTF-8 JSON without a ``\\u0000`` escape; UTF-16 and UTF-32
    bodies (which Flask also parses) are still walked."""
    body = '[{"externalId": "T-1", "name": "North\\u0000"}]'
    for encoding in ("utf-8", "utf-16", "utf-32-le"):
        response = api(
            manager,
            "post",
            "/api/sales/import/territories",
            data=body.encode(encoding),
            content_type="application/json",
        )
        assert response.status_code == 422, (encoding, response.get_data(as_text=True))
        assert response.get_json()["error"]["fields"] == {"[0].name": "contains a NUL character"}
    ok = api(
        manager,
        "post",
        "/api/sales/import/territories",
        json=[{"externalId": "T-1", "name": "Nowhere Land"}],
    )
    assert ok.get_json()["created"] == 1


def test_nul_in_a_query_arg_is_422_naming_it(api, manager):
    response = api(manager, "get", "/api/sales/customers?q=a%00b&page=1")
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"q": "contains a NUL character"}


def test_nul_in_a_path_id_is_404(api, manager):
    response = api(manager, "get", "/api/sales/customers/cus_%00")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_nul_in_the_login_form_is_a_4xx_page(client):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "a\x00@example.com",
            "password": "x",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 422
    assert "email" in response.get_data(as_text=True)


def test_multipart_without_boundary_is_400_naming_the_header(api, manager):
    response = api(
        manager, "post", "/email/send", data=b"x", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {
        "Content-Type": "multipart/form-data needs a boundary"
    }


def test_a_json_operation_answers_415_to_multipart(api, manager):
    response = api(
        manager,
        "post",
        "/api/sales/customers",
        data={"name": "Ann"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 415


def test_the_csv_import_still_takes_multipart(api, manager, make_customer):
    make_customer("North", email="ann@shop.example")
    lst = api(manager, "post", "/lists", json={"name": "Imports"}).get_json()["id"]
    response = api(
        manager,
        "post",
        f"/lists/{lst}/import",
        data={"file": (io.BytesIO(b"email\nann@shop.example\n"), "people.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["added"] == 1
