"""In Chromium: sort and search the customers table and put a selection on a list; a
customer leaves one email topic on the branded preference page and keeps the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app import brand
from app.extensions import db
from app.messaging import topics
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page, live_server, user, path: str) -> None:
    page.goto(f"{live_server}{path}")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}{path}")


def test_sort_search_and_add_a_selection_to_a_list(live_server, page, manager, make_customer):
    from blueprints.lists.models import EmailList, EmailListMember

    make_customer(name="Harbour Bar", lifetime_revenue=Decimal("1200"))
    make_customer(name="Alpine Bar", lifetime_revenue=Decimal("300"))
    make_customer(name="Corner Shop", lifetime_revenue=Decimal("9000"))
    lst = EmailList(name="Bar owners", owner_id=manager.id, is_smart=False, member_count=0)
    db.session.add(lst)
    db.session.commit()
    _sign_in(page, live_server, manager, "/sales/customers")
    rows = page.locator("[data-testid=customer-row] td:nth-child(2)")
    expect(rows).to_have_text(["Alpine Bar", "Corner Shop", "Harbour Bar"])

    header = page.locator("th[data-sort-key=revenue]")
    header.locator("a").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(rows).to_have_text(["Corner Shop", "Harbour Bar", "Alpine Bar"])
    header.locator("a").click()
    expect(page.locator("th[data-sort-key=revenue]")).to_have_attribute("aria-sort", "ascending")
    expect(rows).to_have_text(["Alpine Bar", "Harbour Bar", "Corner Shop"])

    page.fill("input[name=q]", "bar")
    page.click("form[role=search] >> text=Search")
    expect(rows).to_have_text(["Alpine Bar", "Harbour Bar"])  # the sort stayed
    assert "sort=revenue" in page.url

    page.check("[data-select-all=customerId]")
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    page.select_option("[data-testid=selection-list]", label="Bar owners (0)")
    page.click("[data-testid=add-selection]")
    expect(page.locator(".alert-success")).to_contain_text("2 customer(s) added to Bar owners")
    assert "q=bar" in page.url  # back where they were
    db.session.expire_all()
    assert len(db.session.scalars(select(EmailListMember)).all()) == 2


def test_a_customer_leaves_one_topic_on_the_branded_page(
    live_server, page, client, manager, make_customer, token_headers
):
    from blueprints.email import tracking
    from blueprints.email.models import EmailMessage

    brand.update(
        company_name="Cellar & Co", logo_url=None, primary_color="#225588", accent_color="#113355"
    )
    specials = topics.create_topic("Weekly specials")
    topics.create_topic("Events")
    customer = make_customer(email="ann@shop.example")
    sent = client.post(
        "/api/sales/marketing/email/send",
        json={"customerId": customer.public_id, "subject": "S", "html": "<p>Hi</p>"},
        headers=token_headers(manager),
    )
    assert sent.status_code == 201, sent.get_json()
    message = db.session.scalar(select(EmailMessage))
    path = tracking.preferences_url(message.id).split("/email/", 1)[1]

    page.goto(f"{live_server}/email/{path}")
    expect(page.locator("[data-testid=brand-name]")).to_have_text("Cellar & Co")
    colour = page.evaluate("getComputedStyle(document.querySelector('.brand-bar')).backgroundColor")
    assert colour == "rgb(17, 51, 85)"  # the brand's accent colour, from /brand.css
    page.uncheck("text=Weekly specials")
    page.click("[data-testid=save-topics]")
    expect(page.locator("[data-testid=pref-outcome]")).to_contain_text("Saved")
    expect(page.locator("label:has-text('Weekly specials') >> xpath=../input")).not_to_be_checked()
    expect(page.locator("label:has-text('Events') >> xpath=../input")).to_be_checked()
    expect(page.locator("[data-testid=pref-status]")).to_have_text(
        "You are subscribed to our email."
    )
    assert topics.left_topics("ann@shop.example") == {specials.id}
