"""Email forms keep what was typed and say what is wrong: the customer page's "Send email"
form and the new-campaign form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from app.messaging.models import Campaign
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import count, dev_messages
from tests.conftest import csrf_from, sendgrid_settings
from tests.fakes.sendgrid import FakeSendGrid

SEND = "/sales/marketing/email/send/{}"
NEW_CAMPAIGN = "/sales/marketing/campaigns/new?channel=email"  # the channel comes first


def _error(html: str, field: str) -> str:
    found = re.search(rf'data-testid="error-{field}">([^<]*)<', html)
    return found.group(1) if found else ""


def _customer_page(client, customer) -> str:
    return client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)


def test_a_ten_thousand_character_subject_is_a_field_error_not_an_expired_form(
    client, login, manager, make_customer
):
    """The view called every refused field "The form expired" and emptied the form."""
    customer = make_customer(email="buyer@cellar.example")
    login(manager)
    page = _customer_page(client, customer)
    response = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": csrf_from(page), "subject": "S" * 10_000, "html": "<p>Dear you</p>"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "expired" not in html
    assert "300 characters" in _error(html, "subject")
    assert "S" * 10_000 in html and "&lt;p&gt;Dear you&lt;/p&gt;" in html  # kept as typed
    assert count(EmailMessage) == 0


def test_a_refused_send_keeps_the_form_and_names_the_field(client, login, manager, make_customer):
    customer = make_customer(email="buyer@cellar.example")
    login(manager)
    page = _customer_page(client, customer)
    response = client.post(
        SEND.format(customer.public_id),
        data={
            "csrf_token": csrf_from(page),
            "subject": "Spring list",
            "html": "<p>{{ nobody_knows }}</p>",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "nobody_knows" in _error(html, "html")
    assert 'value="Spring list"' in html
    assert 'data-testid="send-email-panel"' in html and 'data-testid="timeline"' in html
    assert count(EmailMessage) == 0


def test_a_sent_email_still_goes_back_to_a_clean_page(client, login, manager, make_customer):
    customer = make_customer(email="buyer@cellar.example")
    login(manager)
    page = _customer_page(client, customer)
    response = client.post(
        SEND.format(customer.public_id),
        data={"csrf_token": csrf_from(page), "subject": "Hello", "html": "<p>Hi</p>"},
    )
    assert response.status_code == 302
    assert "Email to buyer@cellar.example: sent." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    assert [m.to for m in dev_messages()] == ["buyer@cellar.example"]


class TestProviderFailure:
    @pytest.fixture
    def fake(self) -> Iterator[FakeSendGrid]:
        with FakeSendGrid() as server:
            yield server

    @pytest.fixture
    def app_config(self, database_url, fake):
        return sendgrid_settings(database_url, fake)

    def test_a_failed_email_keeps_what_was_typed(self, client, login, manager, make_customer, fake):
        customer = make_customer(email="buyer@cellar.example")
        login(manager)
        page = _customer_page(client, customer)
        fake.fail_next(status=400)
        response = client.post(
            SEND.format(customer.public_id),
            data={
                "csrf_token": csrf_from(page),
                "subject": "Autumn allocation",
                "html": "<p>Two cases of Barolo</p>",
            },
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert re.search(r'data-testid="email-form-errors">\s*<div>Email failed', html)
        assert 'value="Autumn allocation"' in html
        assert "&lt;p&gt;Two cases of Barolo&lt;/p&gt;" in html
        assert EmailMessage.query.one().status == "failed"


def test_new_campaign_without_a_list_or_with_a_long_subject_says_why(
    client, login, manager, make_customer, make_list
):
    make_list(manager, [make_customer()], name="Cellar club")
    login(manager)
    page = client.get(NEW_CAMPAIGN).get_data(as_text=True)
    response = client.post(
        NEW_CAMPAIGN,
        data={
            "csrf_token": csrf_from(page),
            "name": "Autumn release",
            "list_id": "",
            "subject": "S" * 10_000,
            "html": "<p>New Barolo</p>",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _error(html, "list_id") == "Choose a list to send to."
    assert "300 characters" in _error(html, "subject")
    assert 'value="Autumn release"' in html and "S" * 10_000 in html
    assert count(Campaign) == 0


def test_new_campaign_shows_what_the_service_refused(
    client, login, manager, make_customer, make_list
):
    list_id = make_list(manager, [make_customer()], name="Cellar club")
    login(manager)
    page = client.get(NEW_CAMPAIGN).get_data(as_text=True)
    response = client.post(
        NEW_CAMPAIGN,
        data={
            "csrf_token": csrf_from(page),
            "list_id": list_id,
            "subject": "Hi {{ who_is_this }}",
            "html": "<p>x</p>",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "who_is_this" in _error(html, "subject")
    assert 'value="Hi {{ who_is_this }}"' in html
    assert count(Campaign) == 0
