"""The brand settings page and API (admins change, managers read), topics, the favicon."""

from __future__ import annotations

from sqlalchemy import func, select

from app import brand
from app.brand.models import Brand
from app.extensions import db
from app.messaging.topics import Topic
from tests.conftest import csrf_from


def test_admin_edits_the_brand_and_a_refusal_keeps_what_was_typed(client, login, admin):
    login(admin)
    page = client.get("/settings/brand").get_data(as_text=True)
    bad = client.post(
        "/settings/brand",
        data={
            "csrf_token": csrf_from(page),
            "company_name": "Cellar & Co",
            "logo_url": "http://insecure.example/logo.png",
            "primary_color": "wine",
            "accent_color": "#113355",
        },
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'data-testid="error-logo_url">an https:// address' in html
    assert 'data-testid="error-primary_color">a colour as #rrggbb' in html
    assert 'value="Cellar &amp; Co"' in html and 'value="wine"' in html
    assert db.session.scalar(select(func.count()).select_from(Brand)) == 0
    good = client.post(
        "/settings/brand",
        data={
            "csrf_token": csrf_from(page),
            "company_name": "Cellar & Co",
            "logo_url": "https://cellar.example/logo.png",
            "primary_color": "#F0E68C",
            "accent_color": "#113355",
        },
    )
    assert good.status_code == 303
    now = brand.current()
    assert now.company_name == "Cellar & Co" and now.primary_color == "#f0e68c"
    assert now.on_primary == "#212529" and now.on_accent == "#ffffff"  # readable text


def test_managers_read_reps_do_not_and_only_admins_change(
    client, login, manager, rep, admin, token_headers
):
    login(manager)
    page = client.get("/settings/brand")
    assert page.status_code == 200 and 'data-testid="brand-form"' not in page.get_data(True)
    assert client.post("/settings/brand", data={"company_name": "X"}).status_code in (400, 403)
    put = client.put(
        "/api/settings/brand", json={"companyName": "X"}, headers=token_headers(manager)
    )
    assert put.status_code == 403
    api = client.put(
        "/api/settings/brand",
        json={"companyName": "  Cellar  Co ", "primaryColor": "#zzzzzz"},
        headers=token_headers(admin),
    )
    assert api.status_code == 422 and set(api.get_json()["error"]["fields"]) == {"primaryColor"}
    ok = client.put(
        "/api/settings/brand", json={"companyName": "Cellar Co"}, headers=token_headers(admin)
    )
    assert ok.status_code == 200 and ok.get_json()["primaryColor"] == brand.DEFAULT_PRIMARY
    assert (
        client.get("/api/settings/brand", headers=token_headers(rep)).get_json()["companyName"]
        == "Cellar Co"
    )


def test_topics_api_and_page(client, login, admin, token_headers):
    headers = token_headers(admin)
    made = client.post("/api/topics", json={"name": "Weekly specials"}, headers=headers)
    assert made.status_code == 201
    dup = client.post("/api/topics", json={"name": "weekly  SPECIALS"}, headers=headers)
    assert dup.status_code == 409 and "name" in dup.get_json()["error"]["fields"]
    blank = client.post("/api/topics", json={"name": "  "}, headers=headers)
    assert blank.status_code == 422
    assert [t["name"] for t in client.get("/api/topics", headers=headers).get_json()["items"]] == [
        "Weekly specials"
    ]
    login(admin)
    page = client.get("/settings/brand").get_data(as_text=True)
    assert "Weekly specials" in page and 'data-confirm="Delete the topic' in page
    refused = client.post(
        "/settings/topics", data={"csrf_token": csrf_from(page), "name": "Weekly Specials"}
    )
    assert refused.status_code == 409 and 'value="Weekly Specials"' in refused.get_data(True)
    topic_id = made.get_json()["id"]
    deleted = client.post(
        f"/settings/topics/{topic_id}/delete", data={"csrf_token": csrf_from(page)}
    )
    assert deleted.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 0


def test_favicon(client):
    assert client.get("/favicon.ico").status_code == 301
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.data
