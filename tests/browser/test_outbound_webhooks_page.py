"""An admin registers an outbound webhook endpoint on its page, sees the delivery of an
event logged with its attempt, and presses Resend: the local receiver gets it twice,
signed both times (verified with the standardwebhooks library)."""

from __future__ import annotations

import pytest

from app.messaging import consent
from tests.fakes.crm_receiver import CrmReceiver

pytestmark = pytest.mark.browser


def test_register_see_the_attempt_and_resend(live_server, page, admin, make_customer):
    from tests.conftest import PASSWORD

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")
    with CrmReceiver() as receiver:
        page.click("nav >> text=Outbound webhooks")
        page.wait_for_selector("[data-testid=endpoint-form]")
        page.fill("input[name=url]", "ftp://not-a-web-address")
        page.check("input[value='consent.changed']")
        page.click("[data-testid=endpoint-form] >> text=Add endpoint")
        page.wait_for_selector("[data-testid=error-url]")  # refused beside the field
        page.fill("input[name=url]", receiver.url)
        if not page.is_checked("input[value='consent.changed']"):
            page.check("input[value='consent.changed']")
        page.click("[data-testid=endpoint-form] >> text=Add endpoint")
        page.wait_for_selector("text=Endpoint added")
        detail_url = page.url
        page.click("button:has-text('Show secret')")
        secret = page.inner_text("[data-testid=endpoint-secret]")
        assert secret.startswith("whsec_")
        receiver.secret = secret

        customer = make_customer(email="web@shop.example")  # the event, from Decant's side
        consent.opt_out(
            "email", "web@shop.example", reason="manual", source="manual", customer_id=customer.id
        )
        assert len(receiver.received) == 1 and receiver.received[0].verified

        page.goto(detail_url)
        delivery = page.locator("[data-testid=delivery]")
        assert delivery.count() == 1
        assert "consent.changed" in delivery.inner_text()
        assert page.locator("[data-testid=attempt]").count() == 1
        assert "HTTP 200" in page.inner_text("[data-testid=attempts]")

        delivery.locator("button", has_text="Resend").click()
        page.wait_for_selector("[data-testid=attempt] >> text=resent")
        assert page.locator("[data-testid=attempt]").count() == 2
        assert len(receiver.received) == 2 and receiver.received[1].verified
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same message
