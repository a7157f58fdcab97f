"""The list pages: server-rendered forms, and the criteria builder in Chromium."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, csrf_from


def _new_smart_list(client, token: str, name: str, criteria: str):
    """POST the new-list form for a smart list; the response (302 to it, or 422)."""
    return client.post(
        "/sales/marketing/lists/new",
        data={"name": name, "smart": "y", "criteria": criteria, "csrf_token": token},
    )


def test_pages_create_import_refresh_and_delete(app, demo, manager, client, login):
    login(manager)
    assert "Lists" in client.get("/sales/customers").get_data(as_text=True)  # nav entry
    page = client.get("/sales/marketing/lists/new")
    token = csrf_from(page.get_data(as_text=True))
    bad = _new_smart_list(client, token, "Bad", '{"all":[{"type":"no_order_in_days","days":0}]}')
    # the person's words, not the API's path (criteria.all[0].days)
    assert bad.status_code == 422 and "Rule 1 › Days without an order" in bad.get_data(as_text=True)
    assert "criteria.all[0].days" not in bad.get_data(as_text=True)
    made = _new_smart_list(
        client, token, "Actives", '{"type":"account_type","accountType":"ACTIVE"}'
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


def test_edit_a_smart_list_and_add_or_remove_single_members(app, demo, manager, client, login):
    from sqlalchemy import func, select

    from app.extensions import db
    from blueprints.lists.models import EmailList, EmailListMember

    login(manager)
    token = csrf_from(client.get("/sales/marketing/lists/new").get_data(as_text=True))
    made = _new_smart_list(
        client, token, "Actives", '{"type":"account_type","accountType":"ACTIVE"}'
    )
    url = made.headers["Location"]
    form = client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Actives"' in form and "account_type" in form  # prefilled

    bad = client.post(
        f"{url}/edit",
        data={"name": "Renamed", "criteria": '{"all":[{"type":"nope"}]}', "csrf_token": token},
    )
    assert bad.status_code == 422 and "criteria" in bad.get_data(as_text=True)
    lst = db.session.scalar(select(EmailList).where(EmailList.name == "Actives"))
    assert lst is not None  # nothing written

    saved = client.post(
        f"{url}/edit",
        data={
            "name": "High priority",
            "description": "HIGH accounts",
            "criteria": '{"all":[{"type":"account_priority","accountPriority":"HIGH"}]}',
            "csrf_token": token,
        },
    )
    assert saved.status_code == 302
    db.session.refresh(lst)
    assert (lst.name, lst.description) == ("High priority", "HIGH accounts")
    assert lst.criteria == {"all": [{"type": "account_priority", "accountPriority": "HIGH"}]}
    assert re.search(r'data-testid="member-count">2<', client.get(url).get_data(as_text=True))

    manual = client.post("/sales/marketing/lists/new", data={"name": "Manual", "csrf_token": token})
    murl = manual.headers["Location"]
    client.post(f"{murl}/members/add", data={"email": "VIP@north.example", "csrf_token": token})
    unknown = client.post(
        f"{murl}/members/add",
        data={"email": "nobody@nowhere.example", "csrf_token": token},
        follow_redirects=True,
    )
    assert "nobody@nowhere.example" in unknown.get_data(as_text=True)
    page = client.get(murl).get_data(as_text=True)
    assert re.search(r'data-testid="member-count">1<', page) and "vip@north.example" in page
    members = select(func.count()).select_from(EmailListMember)
    manual_list = db.session.scalar(select(EmailList).where(EmailList.name == "Manual"))
    assert db.session.scalar(members.where(EmailListMember.list_id == manual_list.id)) == 1

    renamed = client.post(f"{murl}/edit", data={"name": "Tasting guests", "csrf_token": token})
    assert renamed.status_code == 302
    db.session.refresh(manual_list)
    assert (manual_list.name, manual_list.is_smart, manual_list.criteria) == (
        "Tasting guests",
        False,
        None,
    )

    vip = demo.customers["north_vip"].public_id
    no_token = client.post(f"{murl}/members/{vip}/remove", data={})
    assert no_token.status_code in (302, 400)
    assert db.session.scalar(members.where(EmailListMember.list_id == manual_list.id)) == 1
    client.post(f"{murl}/members/{vip}/remove", data={"csrf_token": token})
    assert db.session.scalar(members.where(EmailListMember.list_id == manual_list.id)) == 0


@pytest.mark.browser
def test_edit_loads_saved_criteria_into_the_builder(live_server, page, demo, manager, client):
    from app.extensions import db
    from blueprints.lists import services

    criteria = {
        "any": [
            {"type": "high_value", "minRevenue": 50000},
            {
                "all": [
                    {"type": "account_priority", "accountPriority": "HIGH"},
                    {"not": {"type": "account_type", "accountType": "CHURNED"}},
                ]
            },
        ]
    }
    from blueprints.lists.criteria import parse

    lst = services.create_list(manager, "Loaded", None, parse(criteria))
    api_only = services.create_list(
        manager,
        "API only",
        None,
        parse({"not": {"any": [{"type": "high_value", "minRevenue": 1}]}}),
    )
    db.session.commit()

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", manager.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server}/sales/marketing/lists/{lst.public_id}/edit")
    root = page.locator("#builder-root > .group")
    expect(root.locator(".group-op").first).to_have_value("any")
    first = root.locator(".criterion").first
    expect(first.locator(".criterion-type")).to_have_value("high_value")
    expect(first.locator("[data-field=minRevenue]")).to_have_value("50000")
    nested = root.locator(".group-items .group")
    expect(nested.locator(".criterion")).to_have_count(2)
    expect(nested.locator(".criterion").nth(1).locator("[data-field=not]")).to_be_checked()
    # high value (vip 80k, south 60k, boundary 50k) or HIGH and not churned (vip): 3
    expect(page.locator("[data-testid=preview-count]")).to_have_text("3")
    nested.locator(".criterion").nth(1).locator("[data-field=not]").uncheck()
    # ... or HIGH and churned (east): 4
    expect(page.locator("[data-testid=preview-count]")).to_have_text("4")
    page.click("text=Save list")
    page.wait_for_selector("h1 >> text=Loaded")
    db.session.expire_all()
    saved = db.session.get(type(lst), lst.id).criteria
    assert saved["any"][1]["all"][1] == {"type": "account_type", "accountType": "CHURNED"}

    page.goto(f"{live_server}/sales/marketing/lists/{api_only.public_id}/edit")
    raw = page.locator("[data-testid=criteria-raw]")
    expect(raw).to_be_visible()
    assert '"not"' in raw.input_value()
    expect(page.locator("[data-testid=preview-count]")).to_have_text(re.compile(r"^\d+$"))
