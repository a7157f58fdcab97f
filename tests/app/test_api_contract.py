"""The JSON contract: envelope on every error, pagination, opaque ids, OpenAPI."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def auth(manager, token_headers):
    return token_headers(manager)


def error(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_malformed_json_is_400_naming_the_body(client, auth):
    response = client.post(
        "/api/sales/customers", data="{not json", headers=auth, content_type="application/json"
    )
    assert response.status_code == 400
    assert error(response)["code"] == "malformed_json"


def test_form_body_is_415(client, auth):
    response = client.post("/api/sales/customers", data={"name": "x"}, headers=auth)
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": 42}, "name"),
        ({"name": "A", "accountPriority": "URGENT"}, "accountPriority"),
        ({"name": "A", "colour": "red"}, "colour"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "A", "phone": "12"}, "phone"),
        ({"name": "A", "territory": "Atlantis"}, "territory"),
        ({"name": "A", "repId": "usr_nobody"}, "repId"),
        ({"name": "A", "customFields": {"bad key": 1}}, "customFields"),
        ([1, 2], "body"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(app, client, auth, body, field):
    from sqlalchemy import func, select

    from app.crm.models import Customer
    from app.extensions import db

    response = client.post("/api/sales/customers", json=body, headers=auth)
    assert response.status_code == 422, response.get_json()
    err = error(response)
    assert err["code"] == "validation_error"
    assert field in err["fields"], err
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_bad_query_parameters_are_422(client, auth):
    response = client.get("/api/sales/customers?perPage=5000", headers=auth)
    assert response.status_code == 422
    assert "perPage" in error(response)["fields"]
    response = client.get("/api/sales/customers?accountType=SOMETIMES", headers=auth)
    assert "accountType" in error(response)["fields"]


def test_unknown_ids_are_404_in_the_envelope(client, auth):
    response = client.get("/api/sales/customers/cus_doesnotexist", headers=auth)
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_unknown_route_and_wrong_method(client, auth):
    assert error(client.get("/api/nothing-here", headers=auth))["code"] == "not_found"
    response = client.delete("/api/sales/customers", headers=auth)
    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"


def test_too_large_body_is_413(app, client, auth):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(
        "/api/sales/customers",
        data="{" + " " * 5000 + "}",
        headers=auth,
        content_type="application/json",
    )
    assert response.status_code == 413
    assert error(response)["code"] == "payload_too_large"


def test_unexpected_errors_are_500_in_the_envelope(app, client, auth, monkeypatch):
    from app.crm import services

    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "customers_query", boom)
    response = client.get("/api/sales/customers", headers=auth)
    assert response.status_code == 500
    err = error(response)
    assert err["code"] == "internal_error" and "fire" not in err["message"]


def test_created_resources_answer_201_with_opaque_ids(client, auth, territories):
    response = client.post(
        "/api/sales/customers",
        json={
            "name": "Bistro",
            "email": "Chef@Bistro.Example.com",
            "phone": "(212) 555-0142",
            "territory": "North",
            "customFields": {"seats": 40},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert re.fullmatch(r"cus_[A-Za-z0-9_-]{16}", body["id"])
    assert body["email"] == "chef@bistro.example.com"
    assert body["phone"] == "+12125550142"
    assert body["customFields"] == {"seats": 40}


def test_collections_are_paged(client, auth, make_customer):
    for _ in range(7):
        make_customer()
    body = client.get("/api/sales/customers?perPage=3&page=3", headers=auth).get_json()
    assert (body["total"], body["page"], body["perPage"], len(body["items"])) == (7, 3, 3, 1)


def test_openapi_document_is_generated_from_the_validating_models(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    post = doc["paths"]["/api/sales/customers"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.split("/")[-1]]
    assert "accountPriority" in schema["properties"]
    assert schema.get("additionalProperties") is False
    assert "bearerAuth" in doc["components"]["securitySchemes"]


def test_docs_page_uses_local_assets_only(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    assert client.get("/api/docs/assets/..%2Fsecret").status_code == 404


def test_openapi_document_lists_every_operation_the_app_answers(app, client):
    """Walk the URL map: every method of every route under /api/ is an operation of the
    document (the CSV export and the providers' webhooks included), but the document
    itself and its viewer; public ones say they need no login."""
    from openapi_spec_validator import validate

    from app.auth.access import is_public

    self_documenting = {"api.openapi_json", "api.docs", "api.docs_asset"}
    doc = client.get("/api/openapi.json").get_json()
    missing, wrongly_secured = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in self_documenting:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {rule.rule}")
            elif is_public(app, rule.endpoint) and operation.get("security") != []:
                wrongly_secured.append(f"{method} {rule.rule}")
    assert missing == [] and wrongly_secured == []
    paths = doc["paths"]
    for provider in ("sendgrid", "resend", "ses", "twilio", "twilio/status"):
        assert "post" in paths[f"/api/sales/marketing/webhooks/{provider}"], provider
    export = paths["/api/sales/marketing/lists/{list_id}/export"]["get"]
    assert "CSV" in export["summary"] and export["parameters"][0]["name"] == "list_id"
    envelope = export["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert envelope.split("/")[-1] in doc["components"]["schemas"]
    validate(doc)  # still a valid OpenAPI 3.1 document with them
