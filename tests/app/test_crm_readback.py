"""The host CRM pulls back what changed (updatedSince, cursor) and names records by its
own ids everywhere in the CRM API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.crm.services import log_activity
from app.models_base import utcnow
from tests.app.test_crm_import import ORDERS, load_book, poster


@pytest.fixture
def post(client, token_headers, admin):
    return poster(client, token_headers(admin))


def get(client, headers, url, expect=200):
    response = client.get(url, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)[:1000]
    return response.get_json()


def walk(client, headers, url, cursor=None):
    """Follow nextCursor to the end; the items and the last cursor."""
    items = []
    while True:
        page = get(client, headers, url + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            return items, cursor


def test_customers_and_orders_changed_since_a_cursor(post, client):
    start = (utcnow() - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    load_book(post)
    h = post.headers
    first = get(client, h, f"/api/sales/customers?updatedSince={start}&perPage=1")
    assert len(first["items"]) == 1 and first["hasMore"] is True
    customers, cursor = walk(client, h, f"/api/sales/customers?updatedSince={start}&perPage=1")
    assert sorted(c["externalId"] for c in customers) == ["C-77", "C-78"]
    assert len({c["id"] for c in customers}) == 2  # each once, though C-77 changed twice
    # nothing changed since: an empty page that hands the same cursor back
    empty = get(client, h, f"/api/sales/customers?cursor={cursor}")
    assert empty["items"] == [] and empty["nextCursor"] == cursor and empty["hasMore"] is False
    # a replay changes nothing, so the cursor still sees nothing
    post("customers", [{"externalId": "C-78", "name": "Cave du Port"}])
    assert get(client, h, f"/api/sales/customers?cursor={cursor}")["items"] == []

    _, order_cursor = walk(client, h, f"/api/sales/orders?updatedSince={start}&perPage=1")
    post("orders", [{"externalId": "O-9002", "status": "cancelled"}])
    changed = get(client, h, f"/api/sales/orders?cursor={order_cursor}")["items"]
    assert [(o["externalId"], o["status"]) for o in changed] == [("O-9002", "cancelled")]
    # the customer's derived totals changed too, so it is in the customers' feed
    again = get(client, h, f"/api/sales/customers?cursor={cursor}")["items"]
    assert [(c["externalId"], c["orderCount"]) for c in again] == [("C-77", 1)]


def test_activities_feed_is_scoped_and_resumable(client, token_headers, rep, make_customer):
    mine, theirs = make_customer("North"), make_customer("South")
    for n in range(3):
        log_activity(mine.id, "Note", subject=f"mine {n}")
        log_activity(theirs.id, "Note", subject=f"theirs {n}")
    h = token_headers(rep)
    since = (utcnow() - timedelta(hours=1)).isoformat()
    url = f"/api/sales/activities?updatedSince={since.replace('+', '%2B')}&perPage=2"
    items, cursor = walk(client, h, url)
    assert [a["subject"] for a in items] == ["mine 0", "mine 1", "mine 2"]
    log_activity(mine.id, "Note", subject="later")
    later = get(client, h, f"/api/sales/activities?cursor={cursor}")["items"]
    assert [a["subject"] for a in later] == ["later"]
    everything = get(client, h, "/api/sales/activities")
    assert everything["total"] == 4 and everything["items"][0]["subject"] == "later"


def test_a_bad_cursor_is_a_422_naming_it(post, client):
    h = post.headers
    body = get(client, h, "/api/sales/customers?cursor=abc", expect=422)
    assert body["error"]["fields"] == {"cursor": "not a cursor this list gave"}
    load_book(post)
    _, cursor = walk(client, h, "/api/sales/customers?updatedSince=2000-01-01T00:00:00")
    assert "cursor" in get(client, h, f"/api/sales/orders?cursor={cursor}", 422)["error"]["fields"]


def test_external_ids_name_records_across_the_api(post, client, token_headers, rep, admin):
    load_book(post)
    h = post.headers
    customer = get(client, h, "/api/sales/customers/C-77")
    assert customer["name"] == "Bistro Lapin" and customer["externalId"] == "C-77"
    orders = get(client, h, "/api/sales/orders?customerId=C-77")["items"]
    assert sorted(o["externalId"] for o in orders) == sorted(o["externalId"] for o in ORDERS)
    order = get(client, h, "/api/sales/orders/O-9001")
    assert order["customerExternalId"] == "C-77"
    assert {line["skuExternalId"] for line in order["lines"]} == {"SKU-1001", "SKU-1002"}
    assert get(client, h, "/api/sales/skus/SKU-1001")["code"] == "BAR-19"
    assert get(client, h, "/api/sales/skus/BAR-19")["externalId"] == "SKU-1001"
    assert len(get(client, h, "/api/sales/customers?territory=T-NW")["items"]) == 1
    assert get(client, h, "/api/sales/customers/C-77/activities")["items"] == []
    post("users", [{"externalId": "U-9", "name": "Una", "email": "una@example.com",
                    "role": "manager"}])  # fmt: skip
    created = client.post(
        "/api/sales/customers",
        json={"name": "New Spot", "territory": "T-SE", "repId": "U-9"},
        headers=h,
    ).get_json()
    assert created["territory"] == "Southeast" and created["repName"] == "Una"
    patched = client.patch(
        "/api/sales/customers/C-78", json={"accountPriority": "LOW"}, headers=h
    ).get_json()
    assert patched["accountPriority"] == "LOW"
    # territory scoping holds whatever the id: a North rep sees neither
    r = token_headers(rep)
    assert client.get("/api/sales/customers/C-77", headers=r).status_code == 404
    assert client.get("/api/sales/orders/O-9001", headers=r).status_code == 404
