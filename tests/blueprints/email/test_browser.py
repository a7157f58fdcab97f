"""In Chromium: send from a customer page, see it in the timeline and the dev outbox,
follow its tracked link and see the click counted."""

from __future__ import annotations

import re

from blueprints.email.models import EmailMessage
from tests.conftest import PASSWORD


def test_send_from_customer_page_and_follow_tracked_link(
    live_server, page, app, manager, make_customer
):
    app.config["PUBLIC_BASE_URL"] = str(live_server)
    customer = make_customer("North", name="Harbour Wines", email="buyer@harbour.example")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/sales/customers/{customer.public_id}")
    page.fill("[data-testid=email-subject]", "Spring list for {{ customer_name }}")
    link = f'<a href="{live_server}/sales/customers">See the list</a>'
    page.fill("[data-testid=email-html]", f"<p>Hello {{{{ customer_name }}}}</p><p>{link}</p>")
    page.click("[data-testid=send-email]")
    page.wait_for_selector("text=Email to buyer@harbour.example: sent")
    timeline = page.locator("[data-testid=timeline]")
    assert "Email: Spring list for Harbour Wines" in timeline.inner_text()

    page.goto(f"{live_server}/dev/outbox")
    outbox = page.locator("[data-testid=dev-outbox]").inner_text()
    assert "buyer@harbour.example" in outbox and "Hello Harbour Wines" in outbox
    tracked = re.search(r"\((http://127\.0\.0\.1:\d+/email/t/c/[^)\s]+)\)", outbox).group(1)
    page.goto(tracked)
    assert page.url.rstrip("/").endswith("/sales/customers")

    page.goto(f"{live_server}/sales/customers/{customer.public_id}")
    assert "clicked 1×" in page.locator("[data-testid=timeline]").inner_text()
    assert EmailMessage.query.one().click_count == 1


def test_template_live_preview_for_a_chosen_customer(live_server, page, manager, make_customer):
    make_customer("North", name="Harbour Wines", email="buyer@harbour.example")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    failed: list[int] = []
    page.on(
        "response", lambda r: failed.append(r.status) if "preview" in r.url and not r.ok else None
    )
    page.goto(f"{live_server}/sales/marketing/templates")
    page.wait_for_load_state("networkidle")
    assert failed == []  # a new, empty template is not an error
    assert page.locator("[data-testid=preview-error]").inner_text() == ""

    page.fill("input[name=subject]", "Hello {{ customer_name }}")
    page.fill("textarea[name=html]", "<p>Dear {{ customer_name }} in {{ territory }}</p>")
    page.wait_for_selector("[data-testid=preview-subject]:has-text('Hello Harbour Wines')")
    assert "Dear Harbour Wines in North" in page.locator("[data-testid=preview-text]").inner_text()

    page.fill("textarea[name=html]", "<p>{{ nobody }}</p>")
    page.wait_for_selector("[data-testid=preview-error]:has-text('nobody')")
