"""In Debian's Chromium, a manager in Paris: drafts a campaign scheduled in their zone,
edits it, reviews it (who is left out, the message as a recipient sees it), sends a test
to themselves, confirms the count, watches the progress without reloading, then reads
the per-link and per-recipient reports and exports them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.messaging import consent
from app.messaging.models import Campaign
from tests.blueprints.email.conftest import (
    dev_messages,
    make_list,  # noqa: F401 - a shared fixture
)
from tests.conftest import PASSWORD, app_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """Campaigns run in the app's job thread, one email a second: slow enough to watch."""
    return app_settings(
        database_url,
        JOBS_IN_THREAD=True,
        PERIODIC_TICK_SECONDS=1,
        EMAIL_RATE_LIMIT="1/1",
        EMAIL_BATCH_SIZE=1,
    )


@pytest.fixture(autouse=True)
def _stop_the_job_thread(app):
    yield
    worker = app.extensions.get("decant_local_worker")
    if worker is not None:
        worker.stop()


def _log_in(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")


def test_a_campaign_from_draft_to_report(
    live_server,
    page,
    app,
    manager,
    make_customer,
    make_list,  # noqa: F811 - the shared fixture imported above
):
    app.config["PUBLIC_BASE_URL"] = str(live_server)
    manager.time_zone = "Europe/Paris"
    db.session.commit()
    people = [
        make_customer(name=f"Cave {n}", email=f"cave{n}@example.com") for n in ("A", "B", "C")
    ]
    consent.opt_out("email", "cavec@example.com", reason="unsubscribe", source="test")
    db.session.commit()
    list_id = make_list(manager, people, name="Cellar club")
    _log_in(page, live_server, manager)

    # draft, scheduled at 09:30 Paris time in five days
    page.goto(f"{live_server}/sales/marketing/campaigns")
    page.click("[data-testid=new-campaign]")
    page.click("[data-channel=email]")
    page.fill("input[name=name]", "Autumn release")
    page.select_option("select[name=list_id]", list_id)
    page.fill("input[name=subject]", "Autumn, {{ customer_name }}")
    link = f"{live_server}/sales/customers"
    page.fill("textarea[name=html]", f'<p>New Barolo. <a href="{link}">See the list</a></p>')
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    page.fill("input[name=scheduled_at]", f"{day:%Y-%m-%d}T09:30")
    assert page.locator("[data-testid=zone]").inner_text() == "Europe/Paris"
    page.click("[data-testid=save-draft]")
    page.wait_for_selector("text=Draft “Autumn release” saved.")
    campaign = db.session.scalar(select(Campaign))
    paris = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert campaign.scheduled_at.astimezone(UTC) == paris.astimezone(UTC)

    # edit: a new subject, and no time (send when confirmed)
    page.click("[data-action=edit]")
    assert page.locator("input[name=scheduled_at]").input_value() == f"{day:%Y-%m-%d}T09:30"
    page.fill("input[name=subject]", "The autumn release, {{ customer_name }}")
    page.fill("input[name=scheduled_at]", "")
    page.click("[data-testid=to-review]")

    # review: two of three, one left out as suppressed; the message as Cave A sees it
    page.wait_for_selector("[data-testid=review-count]")
    assert "2 people will get it" in page.locator("[data-testid=review-count]").inner_text()
    assert page.locator("[data-excluded=suppressed]").inner_text() == "1"
    assert "console" in page.locator("[data-testid=review-provider]").inner_text()
    subject = page.locator("[data-testid=preview-subject]").inner_text()
    assert subject == "Subject: The autumn release, Cave A"
    phone = page.frame_locator("[data-testid=preview-phone]")
    assert "New Barolo" in phone.locator("body").inner_text()
    page.select_option("#preview-customer", label="Cave B")
    page.click("text=Show")
    page.wait_for_selector("[data-testid=preview-subject]:has-text('Cave B')")

    page.click("[data-testid=send-test]")
    page.wait_for_selector(f"text=Test sent to {manager.email}.")
    assert [m.to for m in dev_messages()] == [manager.email]

    # the send needs the tick naming the count
    assert page.locator("[data-testid=confirm-label]").inner_text() == "Send to 2 people"
    page.click("[data-testid=confirm-send-button]")
    page.wait_for_selector("[data-testid=error-confirm]")
    assert len(dev_messages()) == 1
    page.check("#confirm-send")
    page.click("[data-testid=confirm-send-button]")

    # live progress: the status changes on the page without a reload
    page.wait_for_selector("[data-testid=campaign-live]")
    page.evaluate("window.__notReloaded = true")
    page.wait_for_selector("[data-testid=campaign-status]:has-text('sent')", timeout=60_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("[data-count=sent]").inner_text() == "2"
    assert page.locator("[data-action=pause]").count() == 0

    # a recipient clicks the tracked link in their email
    cave_b = next(m for m in dev_messages() if m.to == "caveb@example.com")
    tracked = re.search(r'href="(http://127\.0\.0\.1:\d+/email/t/c/[^"]+)"', cave_b.html).group(1)
    page.goto(tracked)
    page.goto(f"{live_server}/sales/marketing/campaigns/{campaign.public_id}")
    links = page.locator("[data-testid=campaign-links]")
    # the link as sent: one of Decant's own pages, so without UTM parameters (a shop's
    # link gets them: tests/blueprints/email/test_utm_links.py)
    sent = link
    assert sent in links.inner_text()
    assert page.locator(f"[data-unique='{sent}']").inner_text() == "1"
    assert page.locator("[data-stat=uniqueClicks]").inner_text() == "1"
    assert page.locator("[data-stat=clickRate]").inner_text() == "50.0%"
    chart = page.locator("[data-testid=campaign-chart]")
    page.wait_for_function("document.getElementById('campaign-chart').dataset.clicks === '1'")
    assert chart.get_attribute("data-opens") == page.locator("[data-stat=uniqueOpens]").inner_text()

    page.select_option("#recipient-engagement", "clicked")
    page.click("[data-testid=recipient-filters] button[type=submit]")
    rows = page.locator("[data-testid=campaign-recipients] tbody tr")
    assert rows.count() == 1 and "caveb@example.com" in rows.inner_text()

    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    with open(download.value.path(), encoding="utf-8") as exported_file:
        exported = exported_file.read().splitlines()
    assert len(exported) == 2 and exported[1].startswith("caveb@example.com,Cave B,sent")

    # the index shows the rates and filters by status
    page.goto(f"{live_server}/sales/marketing/campaigns?status=sent")
    row = page.locator(f"[data-campaign='{campaign.public_id}']")
    assert row.locator("[data-rate=click]").inner_text() == "50.0%"
    page.select_option("#filter-status", "draft")
    page.click("[data-testid=campaign-filters] button[type=submit]")
    assert page.locator(f"[data-campaign='{campaign.public_id}']").count() == 0
