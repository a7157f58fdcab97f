"""A manager connects Mailchimp with a key on /settings/marketing and syncs a list."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.fakes.mailchimp import DEFAULT_KEY

pytestmark = pytest.mark.browser


def test_connect_and_sync_from_settings_page(
    live_server, page, manager, fake, make_customer, crm_list
):
    fake.add_audience("Trade customers", "aud1")
    list_id = crm_list([make_customer(email="ann@example.com"), make_customer()], name="Spring")

    page.goto(f"{live_server}/settings/marketing")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/settings/marketing")
    assert page.inner_text("[data-testid=provider-email]").startswith("console")

    page.fill("input[name=api_key]", DEFAULT_KEY)
    page.click("[data-testid=connect-form] button[type=submit]")
    page.wait_for_selector("[data-testid=mailchimp-account]")
    assert page.inner_text("[data-testid=mailchimp-account]") == "Decant Test Wines"

    # the list id field offers the CRM lists (fetched from the lists API)
    page.wait_for_selector(f"#crm-lists option[value='{list_id}']", state="attached")
    page.fill("input[name=list_id]", list_id)
    page.select_option("select[name=audience_id]", "aud1")
    page.click("[data-testid=sync-form] button[type=submit]")
    page.wait_for_selector("[data-testid=sync-status]")
    assert page.inner_text("[data-testid=sync-status]").startswith("done")
    assert page.inner_text("[data-testid=sync-progress]") == "2/2"
    assert fake.member("aud1", "ann@example.com")["status"] == "subscribed"
