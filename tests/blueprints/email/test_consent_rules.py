"""An email goes only to the customer's own address; a suppression is lifted only by the
person, knowingly (double opt-in), and never after a bounce or a complaint."""

from __future__ import annotations

import re

import pytest

from app.messaging import consent
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import count, dev_messages


@pytest.fixture
def sent(app, manager, make_customer, call):
    customer = make_customer("North", email="ann@shop.example")
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "Hi",
            "html": "<p>Hi</p>",
        },
    )
    assert r.status_code == 201, r.get_json()
    return EmailMessage.query.one()


def _link(message: EmailMessage, kind: str) -> str:
    return re.findall(rf'"http://localhost(/email/{kind}/[^"]+)"', message.html)[0]


def test_an_opted_out_address_cannot_be_reached_through_another_customers_id(
    call, manager, make_customer
):
    gone = make_customer(email="gone@example.com")
    consent.opt_out("email", gone.email, reason="unsubscribe", source="test")
    mine = make_customer(email="mine@example.com")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"to": gone.email, "customerId": mine.public_id, "subject": "s", "html": "<p>x</p>"},
    )
    assert r.status_code == 422 and "to" in r.get_json()["error"]["fields"]
    assert count(EmailMessage) == 0 and not dev_messages()


def test_the_customers_own_opted_out_address_is_refused(call, manager, make_customer):
    customer = make_customer(email="Out@Example.com")
    consent.opt_out("email", "out@example.com", reason="unsubscribe", source="test")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"customerId": customer.public_id, "subject": "s", "html": "<p>x</p>"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert not dev_messages()


@pytest.mark.parametrize("reason", ["complaint", "bounce"])
def test_the_preference_page_never_lifts_a_complaint_or_bounce(client, sent, reason):
    consent.opt_out("email", sent.to_address, reason=reason, source=f"sendgrid:{reason}")
    before = len(dev_messages())
    page = client.post(_link(sent, "preferences"), data={"action": "subscribe"})
    assert "cannot be subscribed again from here" in page.get_data(as_text=True)
    assert consent.is_suppressed("email", sent.to_address)
    assert len(dev_messages()) == before  # no confirmation either


def test_an_anonymous_post_only_sends_a_confirmation(client, sent):
    consent.opt_out("email", sent.to_address, reason="unsubscribe", source="test")
    before = len(dev_messages())
    client.post(_link(sent, "preferences"), data={"action": "subscribe"})
    client.post(_link(sent, "preferences"), data={"action": "subscribe"})  # pressed again
    assert consent.is_suppressed("email", sent.to_address)
    confirmations = dev_messages()[before:]
    assert len(confirmations) == 1 and confirmations[0].to == sent.to_address
    link = re.findall(r'"http://localhost(/email/confirm/[^"]+)"', confirmations[0].html)[0]
    assert client.post(link[:-3] + "xyz").status_code == 404  # a forged token
    client.post(link)
    assert not consent.is_suppressed("email", sent.to_address)
    head = consent.head("email", sent.to_address)
    assert head.status == "opted_in" and head.method == "double_opt_in"


def test_unsubscribe_pages_do_not_print_the_address(client, sent):
    unsub = _link(sent, "unsubscribe")
    assert sent.to_address not in client.get(unsub).get_data(as_text=True)
    done = client.post(unsub, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and sent.to_address not in done.get_data(as_text=True)
    prefs = client.get(_link(sent, "preferences"))
    assert sent.to_address not in prefs.get_data(as_text=True)


def test_the_unsubscribe_post_obeys_a_body_limit(client, sent):
    unsub = _link(sent, "unsubscribe")
    r = client.post(
        unsub,
        data="List-Unsubscribe=One-Click&pad=" + "x" * 100_000,
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 413
    assert not consent.is_suppressed("email", sent.to_address)
