"""A manager connects Mailchimp with a key on /settings/marketing and syncs a list."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.messaging import audiences
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


def test_import_an_audience_from_its_page(
    live_server, page, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade customers", "aud1")
    buyer = make_customer(email="buyer@example.com", name="Buyer")
    for email in ("buyer@example.com", "walkin@example.com"):
        fake.add_member("aud1", email)
    list_id = crm_list([], name="Tasting guests")

    page.goto(f"{live_server}/settings/marketing")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/settings/marketing")
    page.click("[data-testid=import-link]")
    page.wait_for_selector("[data-testid=import-form]")

    page.select_option("select[name=audience_id]", "aud1")
    page.select_option("select[name=list_id]", list_id)
    page.click("[data-testid=import-form] button[type=submit]")
    page.wait_for_selector("[data-testid=import-status]")
    assert page.inner_text("[data-testid=import-status]").startswith("done")
    assert page.inner_text("[data-testid=import-progress]") == "2/2"
    assert page.inner_text("[data-testid=import-added]") == "1"
    assert "1 added to the list" in page.inner_text("body")
    page.click("[data-testid=imports] summary")
    assert page.is_visible("text=walkin@example.com")

    ids = set(db.session.scalars(audiences.resolve("list", list_id, manager)))
    assert ids == {buyer.id}
