"""A local Mailchimp (tests/fakes/mailchimp.py) wired into the app, and CRM list helpers.

CRM lists are created through the lists channel's public API with the test client: the
mailchimp channel never touches the lists channel's tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.extensions import db
from tests.conftest import app_settings
from tests.fakes.mailchimp import DEFAULT_KEY, FakeMailchimp

API = "/api/sales/marketing/mailchimp"
LISTS = "/api/sales/marketing/lists"


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


@pytest.fixture
def call(client, token_headers):
    """``call(user, "post", "/connect", json=...)`` with the user's bearer token."""
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        headers = {**cache[user.id], **kwargs.pop("headers", {})}
        url = path if path.startswith("/api/") else API + path
        return client.open(url, method=method.upper(), headers=headers, **kwargs)

    return do


@pytest.fixture
def connected(call, manager, fake):
    response = call(manager, "post", "/connect", json={"apiKey": DEFAULT_KEY})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def crm_list(call, manager):
    """Create a manual CRM list with these customers, through the lists API."""

    def make(customers: list[Any], name: str = "Mailchimp list") -> str:
        response = call(manager, "post", LISTS, json={"name": name})
        assert response.status_code == 201, response.get_json()
        list_id = response.get_json()["id"]
        ids = [c.public_id for c in customers]
        for start in range(0, len(ids), 1000):
            added = call(
                manager,
                "post",
                f"{LISTS}/{list_id}/members",
                json={"customerIds": ids[start : start + 1000]},
            )
            assert added.status_code == 200, added.get_json()
        return list_id

    return make


@pytest.fixture
def bulk_customers(app, territories):
    """Insert ``n`` customers quickly (one INSERT), returned ordered by id."""
    from sqlalchemy import insert, select

    from app.crm.models import Customer
    from app.ids import new_public_id

    def make(n: int, prefix: str = "bulk") -> list[Customer]:
        territory = territories["North"]
        rows = [
            {
                "public_id": new_public_id("cus"),
                "name": f"{prefix.title()} {i}",
                "email": f"{prefix}{i}@example.com",
                "territory_id": territory.id,
                "account_type": "ACTIVE",
                "account_priority": "MEDIUM",
                "custom_fields": {},
            }
            for i in range(n)
        ]
        db.session.execute(insert(Customer), rows)
        db.session.commit()
        return list(
            db.session.scalars(
                select(Customer).where(Customer.email.like(f"{prefix}%")).order_by(Customer.id)
            ).unique()
        )

    return make
