"""In Debian's Chromium, a manager sets up the weekly specials from the campaigns page:
a preset rule at 09:00 New York time, then skips one occurrence and gives the next its
own subject; the pages pass axe at a phone's width."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.recurring.models import RecurringCampaign, RecurringOccurrence
from tests.blueprints.email.conftest import make_list  # noqa: F401 - a shared fixture
from tests.browser.test_accessibility import PHONE, _duplicate_ids, _too_wide, _violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_manager_sets_up_weekly_specials_and_skips_and_edits_occurrences(
    live_server,
    page,
    manager,
    make_customer,
    make_list,  # noqa: F811 - the shared fixture
):
    make_list(manager, [make_customer(email="cellar@example.com")], name="Cellar club")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")

    page.goto(f"{live_server}/sales/marketing/campaigns")
    page.click("[data-testid=recurring-link]")
    page.click("[data-testid=new-recurring]")
    page.get_by_label("Name").fill("Weekly specials")
    page.get_by_label("Send to list").select_option(label="Cellar club (1)")
    page.get_by_label("Repeat").select_option(label="Every Tuesday")
    page.get_by_label("Starting from").fill("2027-10-26")
    page.get_by_label("At", exact=True).fill("09:00")
    page.get_by_label("Time zone", exact=True).fill("America/New_York")
    page.get_by_label("Subject (email)").fill("This week's specials, {{ customer_name }}")
    page.get_by_label("Message (email HTML)").fill("<p>Fresh in:</p>")
    page.click("[data-testid=save-recurring]")

    upcoming = page.locator("[data-testid=upcoming] tbody tr")
    upcoming.first.wait_for()
    assert "2027-10-26 09:00 EDT" in upcoming.nth(0).inner_text()
    assert "2027-11-09 09:00 EST" in upcoming.nth(2).inner_text()  # after the clocks change

    upcoming.nth(0).locator("[data-testid=skip-occurrence]").click()
    page.wait_for_selector("[data-testid=unskip-occurrence]")
    page.locator("[data-testid=upcoming] tbody tr").nth(1).locator(
        "[data-testid=edit-occurrence]"
    ).click()
    page.get_by_label("Subject").fill("Harvest week")
    page.click("[data-testid=save-occurrence]")
    page.wait_for_selector("text=own message")

    rec = db.session.scalars(select(RecurringCampaign)).one()
    rows = {r.occurs_at.isoformat(): r for r in db.session.scalars(select(RecurringOccurrence))}
    assert rows["2027-10-26T13:00:00+00:00"].state == "skipped"
    assert rows["2027-11-02T13:00:00+00:00"].subject == "Harvest week"
    assert rec.rule == "FREQ=WEEKLY;BYDAY=TU" and rec.timezone == "America/New_York"

    page.set_viewport_size(PHONE)
    problems = {}
    for path in ("", "/new", f"/{rec.public_id}", f"/{rec.public_id}/edit"):
        page.goto(f"{live_server}/sales/marketing/recurring{path}")
        found = _violations(page) + _too_wide(page) + _duplicate_ids(page)
        if found:
            problems[path] = found
    assert problems == {}


def test_the_designer_offers_the_featured_wines_block(live_server, page, manager):
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")
    page.goto(f"{live_server}/sales/marketing/templates")
    page.click("[data-testid=new-design]")
    page.wait_for_selector("[data-testid=designer][data-ready=true]")
    block = page.locator(".gjs-block", has_text="Featured wines")
    block.wait_for()
    assert block.is_visible()
