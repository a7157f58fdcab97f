"""The settings page's forms keep what was typed and say what is wrong (they redirected
with one generic sentence, whatever the field)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from blueprints.mailchimp.models import MailchimpConnection, MailchimpSync
from tests.conftest import csrf_from

SETTINGS = "/settings/marketing"


def _error(html: str, field: str) -> str:
    found = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return found.group(1) if found else ""


def test_a_refused_key_says_why_on_the_page(client, login, manager, fake):
    login(manager)
    token = csrf_from(client.get(SETTINGS).get_data(as_text=True))
    empty = client.post(f"{SETTINGS}/mailchimp/connect", data={"api_key": "", "csrf_token": token})
    assert empty.status_code == 422
    assert _error(empty.get_data(as_text=True), "api_key") == "This field is required."
    refused = client.post(
        f"{SETTINGS}/mailchimp/connect", data={"api_key": "not-a-key", "csrf_token": token}
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and _error(html, "api_key")
    assert "not-a-key" not in html  # a secret is never echoed back
    assert db.session.scalar(select(MailchimpConnection)) is None


def test_a_refused_sync_keeps_the_typed_list_and_names_the_field(
    client, login, manager, fake, connected, crm_list, make_customer
):
    audience = fake.add_audience("Trade buyers")
    list_id = crm_list([make_customer()])
    login(manager)
    token = csrf_from(client.get(SETTINGS).get_data(as_text=True))
    response = client.post(
        f"{SETTINGS}/mailchimp/sync",
        data={
            "list_id": list_id,
            "audience_id": audience,
            "frequency_hours": "0",
            "csrf_token": token,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _error(html, "frequency_hours") == "Number must be between 1 and 720."
    assert f'value="{list_id}"' in html
    assert re.search(
        rf'<option selected value="{audience}">|<option value="{audience}" selected', html
    )
    unknown = client.post(
        f"{SETTINGS}/mailchimp/sync",
        data={"list_id": "lst_nope", "audience_id": audience, "csrf_token": token},
    )
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 422 and _error(html, "list_id")
    assert 'value="lst_nope"' in html
    assert db.session.scalar(select(func.count()).select_from(MailchimpSync)) == 0
