"""A person logs in, finds a customer and opens the timeline, in Debian's Chromium."""

from __future__ import annotations

import pytest

from app.crm.services import log_activity
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_login_find_customer_open_timeline(live_server, page, manager, make_customer):
    make_customer("North", name="Alpine Bistro")
    target = make_customer("South", name="Harbour Wine Bar", account_priority="HIGH")
    log_activity(target.id, "Email", subject="Spring tasting invitation", body="Join us")

    page.goto(f"{live_server}/sales/customers")
    assert "/login" in page.url
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")

    page.fill("input[name=q]", "harbour")
    page.click("text=Search")
    page.wait_for_selector("text=Harbour Wine Bar")
    assert page.locator("text=Alpine Bistro").count() == 0
    page.click("text=Harbour Wine Bar")
    page.wait_for_selector("[data-testid=timeline]")
    assert page.inner_text("[data-testid=customer-name]") == "Harbour Wine Bar"
    assert "Spring tasting invitation" in page.inner_text("[data-testid=timeline]")

    # the stylesheet came from the app itself (Bootstrap-Flask's local copy)
    css = page.evaluate("Array.from(document.styleSheets).map(s => s.href)")
    assert css and all(href.startswith(live_server) for href in css if href)


def test_api_docs_page_renders(live_server, page):
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector("text=Decant API", timeout=20_000)
    assert page.locator(".opblock").count() > 5
