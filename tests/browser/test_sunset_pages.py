"""In Chromium: the list builder's "clicked campaign" rule previews who clicked as a
person and saves the list; the sunset report's button drafts the re-permission campaign."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.engagement.score import rescore_everyone
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.lists.models import EmailList
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _log_in(page, live_server, user) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/customers")


def _message(customer, campaign_id=None) -> EmailMessage:
    message = EmailMessage(
        customer_id=customer.id,
        campaign_id=campaign_id,
        to_address=customer.email,
        subject="Autumn",
        status="sent",
        sent_at=utcnow() - timedelta(days=3),
    )
    db.session.add(message)
    db.session.commit()
    return message


def test_the_builder_finds_who_clicked_a_campaign(live_server, page, manager, make_customer):
    campaign = Campaign(channel="email", name="Autumn release", status="sent")
    campaign.created_by_id = manager.id
    db.session.add(campaign)
    db.session.commit()
    reader = make_customer("North", name="Reader", email="reader@example.com")
    scanner = make_customer("North", name="Gateway", email="gateway@example.com")
    tracking.record_engagement(_message(reader, campaign.id), "click")
    tracking.record_engagement(
        _message(scanner, campaign.id), "click", verdict=Verdict(False, "burst")
    )
    _log_in(page, live_server, manager)
    page.goto(f"{live_server}/sales/marketing/lists/new")
    page.fill("input[name=name]", "Clicked the autumn release")
    page.check("#smart")
    page.select_option(".criterion-type", "clicked_campaign")
    page.select_option('[data-field="campaignId"]', campaign.public_id)
    expect(page.locator("[data-testid=preview-count]")).to_have_text("1")
    assert "Reader" in page.inner_text("#preview-sample")
    page.get_by_role("button", name="Save list").click()
    page.wait_for_url(f"{live_server}/sales/marketing/lists/lst_*")
    db.session.expire_all()
    saved = db.session.scalar(select(EmailList).where(EmailList.name.like("Clicked%")))
    assert saved is not None
    assert saved.criteria == {
        "all": [{"type": "clicked_campaign", "campaignId": campaign.public_id}]
    }


def test_the_report_button_drafts_the_re_permission_campaign(
    live_server, page, manager, make_customer
):
    quiet = make_customer("North", name="Quiet Cellar", email="quiet@example.com")
    for _ in range(10):
        _message(quiet)
    rescore_everyone()
    _log_in(page, live_server, manager)
    page.goto(f"{live_server}/sales/marketing/dashboard")
    page.click("[data-testid=sunset-report-link]")
    assert "Quiet Cellar" in page.inner_text("[data-testid=sunset-table]")
    page.click("[data-testid=re-permission]")
    page.wait_for_url(f"{live_server}/sales/marketing/campaigns/*/review")
    assert page.inner_text("[data-testid=review-count]").strip().startswith("1 person")
    db.session.expire_all()
    campaign = db.session.scalar(select(Campaign))
    assert campaign is not None and campaign.include_sunset
