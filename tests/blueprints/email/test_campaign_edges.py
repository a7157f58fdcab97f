"""Campaign edges: nobody reachable, a time already past, empty personalisation values,
a missing last order date, a campaign paused before its time and resumed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging.consent import record
from app.messaging.models import Campaign
from app.models_base import utcnow
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import csrf_from

HTML = "<p>Hello {{ customer_name }}</p>"


def _campaigns() -> int:
    return db.session.scalar(select(func.count()).select_from(Campaign))


def test_a_list_nobody_can_be_emailed_from_is_a_422_saying_so(
    app, manager, make_customer, make_list, call
):
    no_address = make_customer("North", email=None)
    opted_out = make_customer("North")
    record("email", opted_out.email, "opted_out", source="test", customer_id=opted_out.id)
    db.session.commit()
    list_id = make_list(manager, [no_address, opted_out])
    r = call(manager, "post", "/email/send", json={"listId": list_id, "subject": "s", "html": HTML})
    assert r.status_code == 422, r.get_json()
    assert "nobody on this list can be emailed" in r.get_json()["error"]["fields"]["listId"]
    assert _campaigns() == 0 and dev_messages() == []
    empty = make_list(manager, [], name="Empty")
    r = call(manager, "post", "/email/send", json={"listId": empty, "subject": "s", "html": HTML})
    assert r.status_code == 422 and "listId" in r.get_json()["error"]["fields"]
    assert _campaigns() == 0


def test_a_past_send_time_is_a_422(app, manager, make_customer, make_list, call):
    list_id = make_list(manager, [make_customer("North")])
    past = (utcnow() - timedelta(minutes=5)).isoformat()
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": list_id, "subject": "s", "html": HTML, "scheduledAt": past},
    )
    assert r.status_code == 422
    assert "in the past" in r.get_json()["error"]["fields"]["scheduledAt"]
    assert _campaigns() == 0 and dev_messages() == []


def test_the_page_refuses_a_past_send_time_saying_so(
    client, login, manager, make_customer, make_list
):
    list_id = make_list(manager, [make_customer("North")], name="Cellar club")
    login(manager)
    page = client.get("/sales/marketing/campaigns/new?channel=email").get_data(as_text=True)
    response = client.post(
        "/sales/marketing/campaigns/new",
        data={
            "csrf_token": csrf_from(page),
            "channel": "email",
            "list_id": list_id,
            "subject": "Autumn",
            "html": "<p>x</p>",
            "scheduled_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 422
    assert "in the past" in response.get_data(as_text=True)
    assert _campaigns() == 0 and dev_messages() == []


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_personalisation_value_falls_back_like_a_missing_one(
    app, manager, make_customer, call, empty
):
    customer = make_customer("North", name="Bistro Lumière")
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "to": customer.email,
            "customerId": customer.public_id,
            "subject": "For {{ customer_name }}",
            "html": "<p>Dear {{ customer_name }}, {{ rep_name }} in {{ territory }}.</p>",
            "personalization": {"customer_name": empty, "rep_name": empty},
        },
    )
    assert r.status_code == 201, r.get_json()
    [sent] = dev_messages()
    assert sent.subject == "For Bistro Lumière"
    assert "Dear Bistro Lumière, your rep in North." in sent.body


def test_last_order_date_has_a_fallback(app, manager, make_customer, make_list, call):
    """No order yet: ``{{ last_order_date }}`` says so instead of leaving a hole; a
    template's own ``|default(...)`` still wins."""
    customer = make_customer("North")
    list_id = make_list(manager, [customer])
    r = call(
        manager,
        "post",
        "/email/send",
        json={
            "listId": list_id,
            "subject": "Since {{ last_order_date }}",
            "html": "<p>Last order: {{ last_order_date }}; "
            "{{ last_order_date|default('never') }}</p>",
        },
    )
    assert r.status_code == 202, r.get_json()
    [sent] = dev_messages()
    assert sent.subject == "Since some time ago"
    assert "Last order: some time ago; never" in sent.body


def test_a_campaign_paused_before_its_time_and_resumed_still_reaches_its_list(
    app, manager, make_customer, make_list, call
):
    customers = [make_customer("North") for _ in range(2)]
    list_id = make_list(manager, customers)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": list_id, "subject": "s", "html": HTML, "scheduledAt": soon},
    )
    cid = r.get_json()["id"]
    assert r.get_json()["actions"] == ["pause", "cancel"]
    paused = call(manager, "post", f"/campaigns/{cid}/pause").get_json()
    assert paused["status"] == "paused" and paused["actions"] == ["resume", "cancel"]
    campaign = db.session.scalar(select(Campaign).where(Campaign.public_id == cid))
    campaign.scheduled_at = utcnow() - timedelta(seconds=1)  # its time has come meanwhile
    db.session.commit()
    resumed = call(manager, "post", f"/campaigns/{cid}/resume").get_json()
    assert resumed["status"] == "sent", resumed
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)
