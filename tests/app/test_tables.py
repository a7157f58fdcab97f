"""Server-side tables: whitelisted sort, search, pages; the customers selection onto a
manual list; list members with last order and consent; the dev outbox."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app.dev import capture
from app.extensions import db
from app.messaging import consent
from blueprints.lists.models import EmailList, EmailListMember
from tests.conftest import csrf_from


def _names(html: str, testid: str = "customer-row") -> list[str]:
    rows = html.split(f'data-testid="{testid}"')[1:]
    return [re.search(r'<a href="/sales/customers/[^"]+">([^<]+)</a>', r).group(1) for r in rows]


def test_customers_sort_by_whitelisted_columns_and_keep_the_search(
    client, login, manager, make_customer
):
    make_customer(name="Bravo", lifetime_revenue=Decimal("500"), last_order_date=date(2026, 3, 1))
    make_customer(name="alpha", lifetime_revenue=Decimal("900"), last_order_date=None)
    make_customer(name="Charlie", lifetime_revenue=Decimal("100"), last_order_date=date(2026, 5, 1))
    login(manager)
    by_name = client.get("/sales/customers").get_data(as_text=True)
    assert _names(by_name) == ["alpha", "Bravo", "Charlie"]
    assert 'aria-sort="ascending" class="" data-sort-key="name"' in by_name

    by_revenue = client.get("/sales/customers?sort=revenue").get_data(as_text=True)
    assert _names(by_revenue) == ["alpha", "Bravo", "Charlie"]  # biggest first by default
    assert 'aria-sort="descending" class="text-end" data-sort-key="revenue"' in by_revenue
    ascending = client.get("/sales/customers?sort=revenue&dir=asc").get_data(as_text=True)
    assert _names(ascending) == ["Charlie", "Bravo", "alpha"]
    # no order date sorts last either way
    last_order = client.get("/sales/customers?sort=lastOrder&dir=asc").get_data(as_text=True)
    assert _names(last_order) == ["Bravo", "Charlie", "alpha"]

    # an unknown column is no SQL: the default order, no error
    sneaky = client.get("/sales/customers?sort=password_hash&dir=sideways")
    assert sneaky.status_code == 200 and _names(sneaky.get_data(as_text=True))[0] == "alpha"

    # the sort links keep the search, the search form keeps the sort
    searched = client.get("/sales/customers?q=a&sort=revenue&dir=asc").get_data(as_text=True)
    assert _names(searched) == ["Charlie", "Bravo", "alpha"]
    assert 'name="sort" value="revenue"' in searched
    name_link = re.search(r'data-sort-key="name">\s*<a [^>]*href="([^"]+)"', searched).group(1)
    assert "q=a" in name_link and "sort=name" in name_link


def test_customers_paginate_after_sorting(client, login, manager, make_customer):
    for n in range(30):
        make_customer(name=f"Shop {n:02d}", lifetime_revenue=Decimal(n))
    login(manager)
    second = client.get("/sales/customers?sort=revenue&dir=desc&page=2").get_data(as_text=True)
    assert _names(second) == [f"Shop {n:02d}" for n in range(4, -1, -1)]
    assert "Page 2 of 2" in second


def test_a_selection_of_customers_goes_onto_a_manual_list(client, login, manager, make_customer):
    one, two, three = (make_customer(name=f"Sel {n}") for n in range(3))
    manual = EmailList(name="Spring tasting", owner_id=manager.id, is_smart=False, member_count=0)
    smart = EmailList(name="Smart one", owner_id=manager.id, is_smart=True, criteria={})
    db.session.add_all([manual, smart])
    db.session.commit()
    login(manager)
    page = client.get("/sales/customers?q=sel").get_data(as_text=True)
    assert "Spring tasting" in page and "Smart one" not in page  # manual lists only
    response = client.post(
        "/sales/customers/add-to-list",
        data={
            "csrf_token": csrf_from(page),
            "customerId": [one.public_id, two.public_id],
            "listId": manual.public_id,
            "next": "/sales/customers?q=sel",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("?q=sel")
    members = set(db.session.scalars(select(EmailListMember.customer_id)))
    assert members == {one.id, two.id}
    again = client.post(
        "/sales/customers/add-to-list",
        data={
            "csrf_token": csrf_from(page),
            "customerId": [two.public_id, three.public_id],
            "listId": manual.public_id,
        },
        follow_redirects=True,
    )
    assert "1 customer(s) added to Spring tasting" in again.get_data(as_text=True)
    assert "(1 already on it)" in again.get_data(as_text=True)
    # nothing chosen: said, nothing written; a smart list: refused by its channel
    empty = client.post(
        "/sales/customers/add-to-list",
        data={"csrf_token": csrf_from(page), "listId": manual.public_id},
        follow_redirects=True,
    )
    assert "Select at least one customer" in empty.get_data(as_text=True)
    refused = client.post(
        "/sales/customers/add-to-list",
        data={
            "csrf_token": csrf_from(page),
            "customerId": [three.public_id],
            "listId": smart.public_id,
        },
        follow_redirects=True,
    )
    assert "Not added" in refused.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(db.func.count())
            .select_from(EmailListMember)
            .where(EmailListMember.list_id == smart.id)
        )
        == 0
    )


def test_list_members_show_last_order_and_consent_and_sort(client, login, manager, make_customer):
    recent = make_customer(name="Recent", last_order_date=date(2026, 11, 1), email="r@x.example")
    old = make_customer(name="Old", last_order_date=date(2025, 1, 1), email="o@x.example")
    consent.opt_out("email", "o@x.example", reason="unsubscribe", source="test")
    consent.record("sms", recent.phone, "opted_in", source="test", customer_id=recent.id)
    db.session.commit()
    lst = EmailList(name="Club", owner_id=manager.id, is_smart=False, member_count=2)
    db.session.add(lst)
    db.session.flush()
    db.session.add_all(EmailListMember(list_id=lst.id, customer_id=c.id) for c in (recent, old))
    db.session.commit()
    login(manager)
    page = client.get(f"/sales/marketing/lists/{lst.public_id}?sort=lastOrder").get_data(True)
    rows = page.split('data-testid="member-row"')[1:]
    assert "Recent" in rows[0] and "2026-11-01" in rows[0] and "Old" in rows[1]
    assert "email: yes" in rows[0] and "SMS: yes" in rows[0]
    assert "email: suppressed" in rows[1] and "SMS: no opt-in" in rows[1]
    searched = client.get(f"/sales/marketing/lists/{lst.public_id}?q=old").get_data(True)
    assert searched.count('data-testid="member-row"') == 1
    # the destructive buttons ask first
    assert 'data-confirm="Remove Recent from' in page and 'data-confirm="Delete the list' in page


def test_dev_outbox_sorts_and_searches(client, login, manager):
    for to, subject in (("b@x.example", "Beta"), ("a@x.example", "Alpha"), ("c@x.example", None)):
        capture("email", to, "text", subject=subject, user_id=manager.id)
    db.session.commit()
    login(manager)
    newest = client.get("/dev/outbox").get_data(as_text=True)
    order = re.findall(r'text-break">([^<]+)<', newest)
    assert order == ["c@x.example", "a@x.example", "b@x.example"]
    by_to = client.get("/dev/outbox?sort=to&dir=asc").get_data(as_text=True)
    assert re.findall(r'text-break">([^<]+)<', by_to) == [
        "a@x.example",
        "b@x.example",
        "c@x.example",
    ]
    found = client.get("/dev/outbox?q=alph").get_data(as_text=True)
    assert re.findall(r'text-break">([^<]+)<', found) == ["a@x.example"]
    # a LIKE wildcard typed by a person is a character, not "anything"
    assert "Nothing sent yet" in client.get("/dev/outbox?q=%25").get_data(as_text=True)


def test_the_customers_api_sorts_too(client, manager, make_customer, token_headers):
    make_customer(name="Bravo", lifetime_revenue=Decimal("500"))
    make_customer(name="alpha", lifetime_revenue=Decimal("900"))
    make_customer(name="Charlie", lifetime_revenue=Decimal("100"))
    headers = token_headers(manager)

    def names(query: str) -> list[str]:
        body = client.get(f"/api/sales/customers{query}", headers=headers).get_json()
        return [c["name"] for c in body["items"]]

    assert names("?sort=name") == ["alpha", "Bravo", "Charlie"]  # case does not matter
    assert names("?sort=-revenue") == ["alpha", "Bravo", "Charlie"]
    assert names("?sort=revenue") == ["Charlie", "Bravo", "alpha"]
    bad = client.get("/api/sales/customers?sort=password_hash", headers=headers)
    assert bad.status_code == 422 and "sort" in bad.get_json()["error"]["fields"]
