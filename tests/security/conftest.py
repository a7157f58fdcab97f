"""Shared helpers for the security tests: a two-territory world and a database snapshot."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db

API = "/api/sales/marketing"
# Tables whose rows legitimately change on any authenticated request.
VOLATILE_TABLES = {"api_token"}


def snapshot(skip: set[str] = VOLATILE_TABLES) -> dict[str, list[tuple]]:
    """Every row of every table (as sorted text tuples): compare before and after."""
    db.session.expire_all()
    rows: dict[str, list[tuple]] = {}
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        result = db.session.execute(select(table)).all()
        rows[table.name] = sorted(tuple(str(v) for v in row) for row in result)
    db.session.rollback()
    return rows


def diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def concrete(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], rule)


def rule_params(rule: str) -> list[str]:
    return re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)


@dataclass
class World:
    """The South territory's data, made by a South rep and a manager through the API."""

    south_rep: Any
    north_customer: Any
    south_customer: Any
    ids: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture
def api(client, token_headers):
    """``api(user, method, path, **kwargs)`` with the user's bearer token."""
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        headers = {**cache[user.id], **kwargs.pop("headers", {})}
        own = ("/api/", "/sales/", "/settings/", "/email/t/", "/email/unsub", "/email/pref")
        url = path if path.startswith(own) else API + path
        return client.open(url, method=method.upper(), headers=headers, **kwargs)

    return do


def _page_import(app, login, manager) -> str:
    """A manager's import through the import page, dry-run (so its rejected rows exist)."""
    import io

    from tests.conftest import csrf_from

    page = login(manager, target=app.test_client())
    token = csrf_from(page.get("/sales/import").get_data(as_text=True))
    data = b"Customer #,Name,E-mail\nC-1,Import One,bad-address\n"
    form = {"entity": "customers", "csrf_token": token, "file": (io.BytesIO(data), "w.csv")}
    response = page.post("/sales/import", data=form, content_type="multipart/form-data")
    import_id = response.headers["Location"].rsplit("/", 1)[1]
    form = {"csrf_token": token, "action": "dry-run", "col-0": "externalId", "col-1": "name"}
    response = page.post(f"/sales/import/{import_id}", data={**form, "col-2": "email"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return import_id


@pytest.fixture
def world(app, api, make_user, make_customer, manager, login) -> World:
    from app.crm.models import Order, Sku
    from app.messaging.consent import record

    south_rep = make_user("rep", "South")
    north = make_customer("North", name="North Bistro")
    south = make_customer("South", name="South Cellar", phone="+12125550999")
    south2 = make_customer("South", name="South Tavern", phone="+12125550998")
    for c in (south, south2, north):
        record("sms", c.phone, "opted_in", source="test", customer_id=c.id)
    order = Order(customer_id=south.id, order_date=date(2024, 5, 1), total=Decimal("120.00"))
    sku = Sku(code="W-1", name="House red", price=Decimal("9.50"))  # the catalogue is shared
    db.session.add_all([order, sku])
    db.session.commit()

    def ok(response, code: int) -> dict[str, Any]:
        assert response.status_code == code, response.get_data(as_text=True)[:500]
        return response.get_json()

    rep_list = ok(api(south_rep, "post", "/lists", json={"name": "South tasting"}), 201)["id"]
    ok(
        api(
            south_rep,
            "post",
            f"/lists/{rep_list}/members",
            json={"customerIds": [south.public_id, south2.public_id]},
        ),
        200,
    )
    mgr_list = ok(api(manager, "post", "/lists", json={"name": "Manager list"}), 201)["id"]
    email = ok(
        api(
            south_rep,
            "post",
            "/email/send",
            json={
                "to": south.email,
                "customerId": south.public_id,
                "subject": "Hello",
                "html": '<p>Hi <a href="https://wine.example/offer">offer</a></p>',
            },
        ),
        201,
    )
    email_campaign = ok(
        api(
            south_rep,
            "post",
            "/email/send",
            json={
                "listId": rep_list,
                "subject": "Spring",
                "html": "<p>Spring tasting</p>",
                "scheduledAt": "2099-01-01T10:00:00Z",
            },
        ),
        202,
    )
    sms = ok(
        api(south_rep, "post", "/sms/send", json={"customerId": south.public_id, "body": "Hi"}),
        201,
    )
    sms_campaign = ok(
        api(
            south_rep,
            "post",
            "/sms/send",
            json={"listId": rep_list, "body": "Tasting", "scheduledAt": "2099-01-01T10:00:00Z"},
        ),
        202,
    )
    template = ok(
        api(south_rep, "post", "/templates", json={"type": "sms", "name": "Mine", "body": "Hi"}),
        201,
    )
    from app.auth.services import issue_token_row

    south_token, _ = issue_token_row(south_rep, "world")
    conversations = ok(api(south_rep, "get", "/sms/conversations"), 200)["items"]
    assert conversations, "the South rep's send opened no conversation"
    endpoint, delivery = _outbound_endpoint()
    recurring = ok(
        api(
            manager,
            "post",
            "/recurring",
            json={
                "name": "Weekly",
                "channel": "email",
                "listId": mgr_list,
                "subject": "Specials",
                "html": "<p>Specials</p>",
                "rule": "FREQ=WEEKLY;BYDAY=TU",
                "startsAt": "2098-12-30T09:00",
                "timeZone": "UTC",
            },
        ),
        201,
    )
    flow = ok(
        api(
            manager,
            "post",
            "/flows",
            json={
                "name": "Thank you",
                "trigger": {"type": "manual"},
                "steps": [{"type": "tag", "tag": "thanked"}],
            },
        ),
        201,
    )
    return World(
        south_rep=south_rep,
        north_customer=north,
        south_customer=south,
        ids={
            "customer_id": [south.public_id, south2.public_id],
            "list_id": [rep_list, mgr_list],
            "campaign_id": [email_campaign["id"], sms_campaign["id"]],
            "conversation_id": [c["id"] for c in conversations],
            "order_id": [order.public_id],
            "user_id": [south_rep.public_id, manager.public_id],
            "message_id": [email["id"], sms["id"]],
            "template_id": [template["id"]],
            "token_id": [south_token.public_id],
            "entity": ["customers", "orders", "territories", "skus", "users"],  # imports
            "import_id": [_page_import(app, login, manager)],
            "territory_id": [south.territory.public_id],
            "sku_id": [sku.public_id],  # admin pages and API: admins only
            "endpoint_id": [endpoint],
            "delivery_id": [delivery],
            "name": ["htmx.js"],  # a browser library (app/vendor.py)
            "rep_id": [south_rep.public_id],  # a rep's day
            "topic_id": [_topic()],  # settings: admins only
            "recurring_id": [recurring["id"]],  # managers and admins only
            "occurs_at": [recurring["occurrences"][0]["occursAt"]],
            "choice": ["skip", "unskip"],
            "flow_id": [flow["id"]],  # managers and admins only
            "key": [flow["steps"][0]["key"]],
        },
    )


def _topic() -> str:
    from app.messaging import topics

    return topics.create_topic("World topic").public_id


def _outbound_endpoint() -> tuple[str, str]:
    """An outbound webhook endpoint (to a closed local port) with one delivery."""
    from app.outbound import services
    from app.outbound.models import OutboundDelivery

    endpoint, _ = services.create_endpoint("http://127.0.0.1:9/hooks", ["import.finished"])
    delivery = OutboundDelivery(
        endpoint_id=endpoint.id,
        event_type="import.finished",
        payload={"type": "import.finished", "timestamp": "2026-01-01T00:00:00Z", "data": {}},
        status="failed",
        attempts=1,
    )
    db.session.add(delivery)
    db.session.commit()
    return endpoint.public_id, delivery.public_id
