"""The inbox in Chromium: a new text appears without reloading, the navigation's unread
badge follows, a thread is assigned, an unknown number is linked to a customer."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.blueprints.sms.conftest import INBOUND, OUR_NUMBER, PUBLIC
from tests.conftest import PASSWORD
from tests.fakes.twilio import signed_inbound_request

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "SMS_INBOX_POLL_SECONDS": 1}


def _text(app, live_server, from_: str, body: str) -> None:
    fields, headers = signed_inbound_request(
        app.config["TWILIO_AUTH_TOKEN"],
        PUBLIC + INBOUND,
        {"From": from_, "To": OUR_NUMBER, "Body": body},
    )
    response = requests.post(live_server + INBOUND, data=fields, headers=headers, timeout=10)
    assert response.status_code == 200


def _sign_in(page, live_server, user, path: str) -> None:
    page.goto(f"{live_server}{path}")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{path}")


def test_new_texts_appear_without_reloading_and_a_thread_is_assigned(
    live_server, page, app, manager, rep, make_customer, fake_twilio
):
    from app.extensions import db
    from app.messaging.models import Template

    make_customer(phone="+12125550401", name="Enoteca Verde", rep_id=rep.id)
    db.session.add(Template(name="Barolo in stock", type="sms", body="Yes {{ customer_name }}!"))
    db.session.commit()
    _sign_in(page, live_server, manager, "/sales/marketing/sms")
    expect(page.locator("text=No conversations yet")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    _text(app, live_server, "+12125550401", "Do you have the Barolo?")
    row = page.locator("[data-testid=sms-conversation]", has_text="Enoteca Verde")
    expect(row).to_be_visible(timeout=10_000)
    expect(row.locator("[data-testid=unread-count]")).to_have_text("1")
    expect(row.locator("[data-testid=assignee]")).to_have_text(rep.name)  # the customer's rep
    expect(page.locator("[data-testid=nav-badge-sms-inbox]")).to_contain_text("1")
    assert page.evaluate("window.notReloaded") is True  # it came in by itself

    row.click()
    expect(page.locator("[data-testid=sms-thread]")).to_contain_text("Do you have the Barolo?")
    expect(page.locator("[data-testid=nav-badge-sms-inbox]")).to_have_text("", timeout=10_000)
    page.evaluate("window.notReloaded = true")
    _text(app, live_server, "+12125550401", "Two cases please")
    expect(page.locator("[data-testid=sms-thread]")).to_contain_text(
        "Two cases please", timeout=10_000
    )
    assert page.evaluate("window.notReloaded") is True

    # a quick reply from an SMS template; its token is filled in for the customer
    page.select_option("[data-testid=quick-reply]", label="Barolo in stock")
    expect(page.locator("#reply-body")).to_have_value("Yes {{ customer_name }}!")
    page.click("[data-testid=reply-send]")
    expect(page.locator("[data-testid=sms-thread]")).to_contain_text("Yes Enoteca Verde!")
    assert [m.body for m in fake_twilio.received] == ["Yes Enoteca Verde!"]

    page.select_option("[data-testid=assign-user]", label=f"{manager.name} (me)")
    page.click("[data-testid=assign-save]")
    expect(page.locator(".alert-success")).to_contain_text(f"Assigned to {manager.name}")
    page.click("[data-filter=mine]")
    expect(page.locator("[data-testid=sms-conversation]", has_text="Enoteca Verde")).to_be_visible()
    page.click("[data-filter=unassigned]")
    expect(page.locator("[data-testid=sms-conversation]")).to_have_count(0)


def test_an_unknown_number_is_linked_to_a_customer(live_server, page, app, manager, make_customer):
    make_customer(phone=None, name="Bottega Nera", email="nera@shop.example")
    _text(app, live_server, "+12125550411", "Hi, it's Marco from Bottega Nera")
    _sign_in(page, live_server, manager, "/sales/marketing/sms")
    page.click("[data-testid=sms-conversation] >> text=Unknown contact")
    expect(page.locator("[data-testid=link-customer]")).to_be_visible()
    page.fill("[data-testid=link-q]", "nera")
    page.click("[data-testid=link-find]")
    page.check("text=Also make this number the customer's phone")
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation
    page.click("[data-testid=link-submit]")
    expect(page.locator(".alert-success")).to_contain_text("is linked to Bottega Nera")
    expect(page.locator("h2 >> text=Bottega Nera")).to_be_visible()
    page.click("h2 >> text=Bottega Nera")
    expect(page.locator("[data-testid=timeline]")).to_contain_text("it's Marco from Bottega Nera")
