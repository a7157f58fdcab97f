"""Connecting: API key format, 401 from Mailchimp, encryption at rest, OAuth, disconnect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, text

from app.extensions import db
from blueprints.mailchimp.models import MailchimpConnection
from tests.fakes.mailchimp import DEFAULT_KEY


def test_connect_with_key_stores_it_encrypted(call, manager, fake):
    response = call(manager, "post", "/connect", json={"apiKey": DEFAULT_KEY})
    assert response.status_code == 201
    body = response.get_json()
    assert body["connected"] is True
    assert body["accountName"] == "Decant Test Wines"
    assert body["dataCenter"] == "us21"
    assert body["connectedAt"]
    raw = db.session.execute(text("SELECT * FROM mailchimp_connection")).all()
    assert len(raw) == 1
    assert all(DEFAULT_KEY not in str(value) for value in raw[0])
    assert DEFAULT_KEY.split("-")[0] not in str(tuple(raw[0]))
    assert ("GET", "/3.0/ping") in fake.requests


def test_status_shows_the_connection(call, manager, connected):
    body = call(manager, "get", "/connect").get_json()
    assert body["connected"] is True
    assert body["accountName"] == "Decant Test Wines"
    assert body["lastSyncAt"] is None
    assert body["errors"] == []


def test_malformed_key_is_422_naming_apikey(call, manager, fake):
    response = call(manager, "post", "/connect", json={"apiKey": "not-a-key"})
    assert response.status_code == 422
    assert "apiKey" in response.get_json()["error"]["fields"]
    assert fake.requests == []
    assert db.session.scalar(select(MailchimpConnection)) is None


def test_key_refused_by_mailchimp_is_invalid_credentials(call, manager, fake):
    response = call(manager, "post", "/connect", json={"apiKey": "ffffffffffffffff-us21"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_credentials"
    assert db.session.scalar(select(MailchimpConnection)) is None


def test_disconnect_erases_the_key(call, manager, connected):
    assert call(manager, "delete", "/connect").status_code == 204
    assert db.session.execute(text("SELECT count(*) FROM mailchimp_connection")).scalar() == 0
    assert call(manager, "get", "/connect").get_json() == {"connected": False}


def test_reps_may_not_connect(call, rep):
    response = call(rep, "post", "/connect", json={"apiKey": DEFAULT_KEY})
    assert response.status_code == 403


def test_oauth_flow_exchanges_code_and_reads_data_centre(client, login, manager, fake):
    login(manager)
    start = client.get("/settings/marketing/mailchimp/oauth/start")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["client_id"] == [fake.client_id]
    redirect_uri, state = query["redirect_uri"][0], query["state"][0]
    code = fake.issue_code(redirect_uri)

    bad = client.get(f"/settings/marketing/mailchimp/oauth/callback?code={code}&state=forged")
    assert bad.status_code == 302
    assert db.session.scalar(select(MailchimpConnection)) is None

    client.get("/settings/marketing/mailchimp/oauth/start")  # a fresh state
    start = client.get("/settings/marketing/mailchimp/oauth/start")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    done = client.get(f"/settings/marketing/mailchimp/oauth/callback?code={code}&state={state}")
    assert done.status_code == 302
    conn = db.session.scalar(select(MailchimpConnection))
    assert conn is not None and conn.auth_type == "oauth" and conn.data_center == "us21"
    assert conn.account_name == "Decant Test Wines"
    token = next(iter(fake.access_tokens))
    assert token not in conn.secret_encrypted


def test_settings_page_shows_providers_and_connects(client, login, manager, fake):
    from tests.conftest import csrf_from

    login(manager)
    page = client.get("/settings/marketing")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="provider-email">console' in html
    response = client.post(
        "/settings/marketing/mailchimp/connect",
        data={"api_key": DEFAULT_KEY, "csrf_token": csrf_from(html)},
    )
    assert response.status_code == 302
    html = client.get("/settings/marketing").get_data(as_text=True)
    assert "Decant Test Wines" in html
    response = client.post(
        "/settings/marketing/mailchimp/disconnect", data={"csrf_token": csrf_from(html)}
    )
    assert db.session.scalar(select(MailchimpConnection)) is None


def test_settings_page_needs_manager(client, login, rep):
    login(rep)
    assert client.get("/settings/marketing").status_code == 403
