"""The inbox page, the customer page panel, dev-mode capture, and the browser flow."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from app.dev.models import DevMessage
from app.extensions import db
from tests.blueprints.sms.conftest import INBOUND, OUR_NUMBER, PUBLIC
from tests.conftest import PASSWORD, csrf_from
from tests.fakes.twilio import signed_inbound_request


def test_inbox_thread_reply_and_customer_panel(
    client, login, manager, make_customer, opt_in, inbound, fake_twilio
):
    customer = make_customer(phone="+12125550150", name="Cave Nord")
    opt_in(customer)
    inbound("+12125550150", "Any Chablis left?")
    login(manager)
    inbox = client.get("/sales/marketing/sms").get_data(as_text=True)
    assert "Cave Nord" in inbox and 'data-testid="unread-count">1<' in inbox
    assert ">SMS<" in inbox  # nav entry
    link = inbox.split('href="/sales/marketing/sms/')[1].split('"')[0]
    thread = client.get(f"/sales/marketing/sms/{link}").get_data(as_text=True)
    assert "Any Chablis left?" in thread
    r = client.post(
        f"/sales/marketing/sms/{link}/reply",
        data={"body": "Two cases", "csrf_token": csrf_from(thread)},
    )
    assert r.status_code == 302 and fake_twilio.received[-1].body == "Two cases"
    page = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert 'data-testid="sms-panel"' in page and "Any Chablis left?" in page and "Two cases" in page
    assert "sms.js" in page
    r = client.post(
        f"/sales/marketing/sms/customers/{customer.public_id}/send",
        data={"body": "From the panel", "csrf_token": csrf_from(page)},
    )
    assert r.status_code == 302 and fake_twilio.received[-1].body == "From the panel"


def test_rep_cannot_open_another_territory_thread(client, login, rep, make_customer, inbound):
    make_customer("South", phone="+12125550151")
    inbound("+12125550151", "hi")
    from blueprints.sms.models import SmsConversation

    cid = db.session.scalar(select(SmsConversation.public_id))
    login(rep)
    assert client.get(f"/sales/marketing/sms/{cid}").status_code == 404
    assert "+12125550151" not in client.get("/sales/marketing/sms").get_data(as_text=True)


class TestConsole:
    @pytest.fixture
    def app_config(self, database_url):
        from tests.conftest import app_settings

        return app_settings(database_url, SMS_PROVIDER="console", SMS_RATE_LIMIT="100/1")

    def test_console_texts_land_in_the_dev_outbox(
        self, client, call, manager, make_customer, opt_in, login
    ):
        customer = make_customer(phone="+12125550152")
        opt_in(customer)
        r = call(
            manager, "post", "/send", json={"customerId": customer.public_id, "body": "dev hello"}
        )
        assert r.status_code == 201 and r.get_json()["status"] == "sent"
        [dev] = db.session.scalars(select(DevMessage)).all()
        assert dev.channel == "sms" and dev.to == "+12125550152" and dev.body == "dev hello"
        login(manager)
        assert "dev hello" in client.get("/dev/outbox").get_data(as_text=True)

    def test_webhooks_refuse_without_an_auth_token(self, client):
        assert client.post(INBOUND, data={"From": "+12125550153", "Body": "hi"}).status_code == 403


@pytest.mark.browser
def test_inbound_appears_in_the_inbox_and_a_reply_goes_out(
    live_server, page, app, manager, make_customer, opt_in, fake_twilio
):
    customer = make_customer(phone="+12125550154", name="Bodega Sur")
    opt_in(customer)
    fields, headers = signed_inbound_request(
        app.config["TWILIO_AUTH_TOKEN"],
        PUBLIC + INBOUND,
        {"From": customer.phone, "To": OUR_NUMBER, "Body": "Is the tasting on Friday?"},
    )
    assert (
        requests.post(live_server + INBOUND, data=fields, headers=headers, timeout=10).status_code
        == 200
    )

    page.goto(f"{live_server}/sales/marketing/sms")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/marketing/sms")
    expect(page.locator("[data-testid=unread-count]")).to_have_text("1")
    page.click("text=Bodega Sur")
    expect(page.locator("[data-testid=sms-thread]")).to_contain_text("Is the tasting on Friday?")
    page.fill("#reply-body", "Yes, 6pm 🍷")
    expect(page.locator("[data-testid=sms-counter]")).to_contain_text("UCS-2")
    page.click("text=Send reply")
    expect(page.locator("[data-testid=sms-thread]")).to_contain_text("Yes, 6pm 🍷")
    assert [m.body for m in fake_twilio.received] == ["Yes, 6pm 🍷"]
