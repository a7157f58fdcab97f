"""In Chromium, a manager builds a flow from the navigation: creates it, adds an email
step and a wait until Tuesday 09:00, is told which field is missing when activating too
early, activates it, adds a customer by hand and sees the per-step counts; the editor
has no serious accessibility violation."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.messaging.models import Template
from tests.browser.test_accessibility import PHONE, _duplicate_ids, _too_wide, _violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_manager_builds_and_activates_a_flow(
    live_server: str, page: Any, app: Any, manager: Any, make_customer: Any
) -> None:
    db.session.add(Template(type="email", name="Thank you", subject="Thanks", html="<p>Hi</p>"))
    db.session.commit()
    customer = make_customer(name="Harbour Wine Bar")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")

    page.get_by_role("link", name="Flows").first.click()
    page.wait_for_url(f"{live_server}/sales/marketing/flows")
    new = page.get_by_test_id("new-flow")
    new.get_by_label("Name").fill("Thank-you series")
    new.get_by_label("Trigger").select_option("manual")
    new.get_by_role("button", name="Create flow").click()
    page.wait_for_selector("text=Flow created")

    page.get_by_label("Type").select_option("email")
    page.get_by_role("button", name="Add step").click()
    page.wait_for_selector("text=Step added")
    page.get_by_role("button", name="Activate").click()
    errors = page.get_by_test_id("flow-errors")
    assert "steps[0].templateId" in errors.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove step s1").click()
    page.wait_for_selector("text=Step removed")
    page.get_by_label("Type").select_option("email")
    page.get_by_label("Template").select_option(label="Thank you")
    page.get_by_role("button", name="Add step").click()
    page.wait_for_selector("text=Step added")
    page.get_by_label("Type").select_option("wait")
    page.get_by_label("Or until weekday").select_option("tue")
    page.get_by_label("at (HH:MM)").fill("09:00")
    page.get_by_role("button", name="Add step").click()
    page.wait_for_selector("text=Step added")
    page.get_by_role("button", name="Activate").click()
    page.wait_for_selector("text=The flow is active")
    assert page.get_by_test_id("flow-status").inner_text() == "active"

    page.get_by_label("Add a customer by hand (customer id)").fill(customer.public_id)
    page.get_by_role("button", name="Add to flow").click()
    page.wait_for_selector("text=Customer added to the flow")
    counts = page.get_by_test_id("step-counts").all_inner_texts()
    assert counts[0].startswith("passed 1") and "waiting 1" in counts[1]
    # on a phone, as the suite checks every page: no serious violation, no sideways scroll
    editor = page.url
    page.set_viewport_size(PHONE)
    for url in (f"{live_server}/sales/marketing/flows", editor):
        page.goto(url)
        assert _violations(page) + _too_wide(page) + _duplicate_ids(page) == [], url
