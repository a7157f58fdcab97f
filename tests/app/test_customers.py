"""Customers, the timeline and territory scoping, through the API and the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.crm.services import log_activity
from app.models_base import utcnow


@pytest.fixture
def spread(make_customer):
    return {
        "north_high": make_customer("North", name="Alpine Bistro", account_priority="HIGH"),
        "north_low": make_customer(
            "North", name="Boreal Bar", account_priority="LOW", account_type="PROSPECT"
        ),
        "south": make_customer("South", name="Coastal Cellar", account_priority="HIGH"),
        "east": make_customer("East", name="Dawn Hotel", email="dawn@hotel.example.com"),
    }


def names(response):
    return sorted(c["name"] for c in response.get_json()["items"])


def test_filters(client, manager, token_headers, spread):
    h = token_headers(manager)
    assert names(client.get("/api/sales/customers?territory=North", headers=h)) == [
        "Alpine Bistro",
        "Boreal Bar",
    ]
    assert names(client.get("/api/sales/customers?accountPriority=HIGH", headers=h)) == [
        "Alpine Bistro",
        "Coastal Cellar",
    ]
    assert names(client.get("/api/sales/customers?accountType=PROSPECT", headers=h)) == [
        "Boreal Bar"
    ]
    assert names(client.get("/api/sales/customers?q=hotel.example", headers=h)) == ["Dawn Hotel"]


def test_a_rep_sees_only_their_territory_everywhere(client, rep, token_headers, spread, login):
    h = token_headers(rep)
    assert names(client.get("/api/sales/customers", headers=h)) == ["Alpine Bistro", "Boreal Bar"]
    south = spread["south"].public_id
    assert client.get(f"/api/sales/customers/{south}", headers=h).status_code == 404
    assert client.get(f"/api/sales/customers/{south}/activities", headers=h).status_code == 404
    assert (
        client.patch(
            f"/api/sales/customers/{south}", json={"name": "Mine now"}, headers=h
        ).status_code
        == 404
    )
    assert client.get(f"/api/sales/orders?customerId={south}", headers=h).status_code == 422
    # a rep cannot move a customer out of their territory or create one elsewhere
    north = spread["north_high"].public_id
    response = client.patch(f"/api/sales/customers/{north}", json={"territory": "South"}, headers=h)
    assert response.status_code == 422 and "territory" in response.get_json()["error"]["fields"]
    created = client.post("/api/sales/customers", json={"name": "New Spot"}, headers=h).get_json()
    assert created["territory"] == "North" and created["repId"] == rep.public_id
    # pages too
    login(rep)
    page = client.get("/sales/customers").get_data(as_text=True)
    assert "Alpine Bistro" in page and "Coastal Cellar" not in page
    assert client.get(f"/sales/customers/{south}").status_code == 404


def test_patch_changes_only_what_is_sent(client, manager, token_headers, spread):
    h = token_headers(manager)
    cid = spread["east"].public_id
    response = client.patch(
        f"/api/sales/customers/{cid}",
        json={"accountPriority": "HIGH", "customFields": {"wine_club": True}},
        headers=h,
    )
    body = response.get_json()
    assert body["accountPriority"] == "HIGH" and body["name"] == "Dawn Hotel"
    assert body["customFields"]["wine_club"] is True
    bad = client.patch(f"/api/sales/customers/{cid}", json={"email": "nope"}, headers=h)
    assert bad.status_code == 422
    assert client.get(f"/api/sales/customers/{cid}", headers=h).get_json()["email"] == (
        "dawn@hotel.example.com"
    )


def test_timeline_is_paged_newest_first(client, manager, token_headers, spread, login):
    customer = spread["north_high"]
    now = utcnow()
    for i in range(5):
        log_activity(
            customer.id, "Email", subject=f"Hello {i}", occurred_at=now - timedelta(days=i)
        )
    h = token_headers(manager)
    body = client.get(
        f"/api/sales/customers/{customer.public_id}/activities?perPage=2", headers=h
    ).get_json()
    assert body["total"] == 5
    assert [a["subject"] for a in body["items"]] == ["Hello 0", "Hello 1"]
    url = f"/api/sales/customers/{customer.public_id}/activities?perPage=2&page="
    last = client.get(url + "3", headers=h).get_json()
    assert (last["total"], [a["subject"] for a in last["items"]]) == (5, ["Hello 4"])
    past = client.get(url + "9", headers=h).get_json()
    assert (past["total"], past["items"]) == (5, [])
    empty = spread["south"].public_id
    none = client.get(f"/api/sales/customers/{empty}/activities", headers=h).get_json()
    assert (none["total"], none["items"]) == (0, [])
    login(manager)
    page = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    assert page.index("Hello 0") < page.index("Hello 1")


def test_orders_skus_territories(client, manager, token_headers, spread, app):
    from datetime import date
    from decimal import Decimal

    from app.crm.models import Order, OrderLine, Sku
    from app.extensions import db

    sku = Sku(code="CAB-19", name="Napa Cabernet 2019", price=Decimal("42.00"))
    order = Order(customer=spread["south"], order_date=date(2026, 1, 5), total=Decimal("84.00"))
    order.lines.append(OrderLine(sku=sku, quantity=2, unit_price=Decimal("42.00")))
    db.session.add(order)
    db.session.commit()
    h = token_headers(manager)
    orders = client.get("/api/sales/orders", headers=h).get_json()
    assert orders["items"][0]["total"] == "84.00"
    assert orders["items"][0]["lines"][0]["skuName"] == "Napa Cabernet 2019"
    skus = client.get("/api/sales/skus?q=cabernet", headers=h).get_json()
    assert skus["items"][0]["price"] == "42.00"
    territories = client.get("/api/sales/territories", headers=h).get_json()
    assert [t["name"] for t in territories["items"]] == ["East", "North", "South"]


def test_a_page_of_customers_costs_the_same_queries_however_many_it_holds(
    client, manager, rep, token_headers, make_customer
):
    """The list reads each customer's address scores, consent, territory and rep for the
    whole page at once: 12 customers take no more statements than 3 (they took four or
    five more per customer)."""
    from sqlalchemy import event

    from app.extensions import db

    h = token_headers(manager)

    def statements_for_a_page() -> int:
        seen: list[str] = []

        def note(_conn, _cursor, statement, *_args) -> None:
            seen.append(statement)

        db.session.expire_all()
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            answer = client.get("/api/sales/customers?perPage=50", headers=h)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert answer.status_code == 200
        return len([s for s in seen if "api_token" not in s])  # the token's own reads

    for n in range(3):
        make_customer("North" if n % 2 else "South", rep=rep)
    few = statements_for_a_page()
    for n in range(9):
        make_customer("North" if n % 2 else "South", rep=rep, phone=None)
    assert client.get("/api/sales/customers", headers=h).get_json()["total"] == 12
    assert statements_for_a_page() == few
