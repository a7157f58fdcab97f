"""Provider secrets are not readable in the database, the API or the pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import app_settings, csrf_from
from tests.fakes.mailchimp import DEFAULT_KEY, FakeMailchimp
from tests.security.conftest import snapshot

MC = "/api/sales/marketing/mailchimp"
KEY_PARTS = (DEFAULT_KEY, DEFAULT_KEY.split("-")[0], DEFAULT_KEY[:16])


@pytest.fixture
def fake() -> Iterator[FakeMailchimp]:
    with FakeMailchimp() as server:
        yield server


@pytest.fixture
def app_config(database_url: str, fake: FakeMailchimp) -> dict[str, Any]:
    return app_settings(
        database_url,
        MAILCHIMP_BASE_URL=fake.url,
        MAILCHIMP_CLIENT_ID=fake.client_id,
        MAILCHIMP_CLIENT_SECRET=fake.client_secret,
        MAILCHIMP_OAUTH_TOKEN_URL=fake.token_url,
        MAILCHIMP_OAUTH_METADATA_URL=fake.metadata_url,
        MAILCHIMP_RETRY_BASE_SECONDS=0.01,
        MAILCHIMP_RETRY_MAX_SECONDS=0.05,
        MAILCHIMP_RETRY_ATTEMPTS=3,
    )


def _leaks(secrets: tuple[str, ...]) -> list[str]:
    """Every (table, row) whose text holds one of ``secrets``, over every table."""
    found = []
    for table, rows in snapshot(skip=set()).items():
        for row in rows:
            text = " ".join(row)
            found += [f"{table}: {s[:6]}..." for s in secrets if s in text]
    return found


def test_api_key_is_in_no_column_of_any_table_and_never_answered(
    app, client, api, manager, fake, make_customer
):
    make_customer("North", email="a@shop.example")
    response = api(manager, "post", f"{MC}/connect", json={"apiKey": DEFAULT_KEY})
    assert response.status_code == 201, response.get_json()
    answers = [response.get_data(as_text=True)]
    audience = fake.add_audience("Wine club")
    made = api(manager, "post", "/lists", json={"name": "Club"})
    answers.append(made.get_data(as_text=True))
    sync = api(
        manager,
        "post",
        f"{MC}/sync",
        json={"listId": made.get_json()["id"], "audienceId": audience},
    )
    answers.append(sync.get_data(as_text=True))
    for path in ("/connect", "/sync", "/campaigns"):
        answers.append(api(manager, "get", MC + path).get_data(as_text=True))
    assert _leaks(KEY_PARTS) == []
    for text in answers:
        assert not any(part in text for part in KEY_PARTS), text[:300]


def test_key_entered_on_the_settings_page_is_not_stored_or_shown(app, client, login, manager, fake):
    login(manager)
    html = client.get("/settings/marketing").get_data(as_text=True)
    response = client.post(
        "/settings/marketing/mailchimp/connect",
        data={"api_key": DEFAULT_KEY, "csrf_token": csrf_from(html)},
    )
    assert response.status_code == 302
    page = client.get("/settings/marketing").get_data(as_text=True)
    assert "Decant Test Wines" in page
    assert not any(part in page for part in KEY_PARTS)
    assert _leaks(KEY_PARTS) == []


def test_oauth_token_is_in_no_column_of_any_table(app, client, login, manager, fake):
    login(manager)
    start = client.get("/settings/marketing/mailchimp/oauth/start")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    code = fake.issue_code(query["redirect_uri"][0])
    done = client.get(
        f"/settings/marketing/mailchimp/oauth/callback?code={code}&state={query['state'][0]}"
    )
    assert done.status_code == 302
    token = next(iter(fake.access_tokens))
    assert _leaks((token, fake.client_secret)) == []
    page = client.get("/settings/marketing").get_data(as_text=True)
    assert token not in page and fake.client_secret not in page
