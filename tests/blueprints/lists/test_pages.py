"""The list pages: server-rendered forms, and the criteria builder in Chromium."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, csrf_from


def test_pages_create_import_refresh_and_delete(app, demo, manager, client, login):
    login(manager)
    assert "Lists" in client.get("/sales/customers").get_data(as_text=True)  # nav entry
    page = client.get("/sales/marketing/lists/new")
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post(
        "/sales/marketing/lists/new",
        data={
            "name": "Bad",
            "smart": "y",
            "criteria": '{"all":[{"type":"no_order_in_days","days":0}]}',
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422 and "criteria.all[0].days" in bad.get_data(as_text=True)
    made = client.post(
        "/sales/marketing/lists/new",
        data={
            "name": "Actives",
            "smart": "y",
            "criteria": '{"type":"account_type","accountType":"ACTIVE"}',
            "csrf_token": token,
        },
    )
    assert made.status_code == 302
    detail = client.get(made.headers["Location"]).get_data(as_text=True)
    assert re.search(r'data-testid="member-count">2<', detail)
    assert "vip@north.example" in detail
    assert "Actives" in client.get("/sales/marketing/lists").get_data(as_text=True)

    manual = client.post("/sales/marketing/lists/new", data={"name": "Manual", "csrf_token": token})
    url = manual.headers["Location"]
    csv = b"email\nvip@north.example\nnope@nowhere.example\n"
    preview = client.post(
        f"{url}/import",
        data={"file": (io.BytesIO(csv), "x.csv"), "dry_run": "y", "csrf_token": token},
        content_type="multipart/form-data",
    )
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "no such customer" in text and "would be" in text
    client.post(
        f"{url}/import",
        data={"file": (io.BytesIO(csv), "x.csv"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert re.search(r'data-testid="member-count">1<', client.get(url).get_data(as_text=True))
    assert client.post(f"{url}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(url).status_code == 404


@pytest.mark.browser
def test_build_a_smart_list_in_the_browser(live_server, page, demo, manager):
    page.goto(f"{live_server}/sales/marketing/lists/new")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/sales/marketing/lists/new")

    page.fill("input[name=name]", "High value or priority")
    page.check("#smart")
    root = page.locator("#builder-root > .group")
    count = page.locator("[data-testid=preview-count]")
    first = root.locator(".criterion").first
    first.locator(".criterion-type").select_option("high_value")
    first.locator("[data-field=minRevenue]").fill("50000")
    expect(count).to_have_text("3")
    root.locator("text=Add condition").first.click()
    second = root.locator(".criterion").nth(1)
    second.locator(".criterion-type").select_option("account_priority")
    second.locator("[data-field=accountPriority]").select_option("HIGH")
    expect(count).to_have_text("1")
    root.locator(".group-op").first.select_option("any")
    expect(count).to_have_text("4")
    page.click("text=Save list")
    page.wait_for_selector("h1 >> text=High value or priority")
    assert page.inner_text("h1 [data-testid=member-count]") == "4"
