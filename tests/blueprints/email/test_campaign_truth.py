"""The campaign page and API tell the truth: the chart agrees with the counters, the open
rate is shown, only the actions that apply are offered, and one message can be read."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import dev_messages

HTML = '<p>Hi {{ customer_name }}</p><a href="https://shop.example/wine">Wine</a>'


def _campaign(call, user, make_list, customers) -> str:
    r = call(
        user,
        "post",
        "/email/send",
        json={"listId": make_list(user, customers), "subject": "S", "html": HTML},
    )
    assert r.status_code == 202, r.get_json()
    return r.get_json()["id"]


def _click_link(address: str) -> str:
    [delivered] = [d for d in dev_messages() if d.to == address]
    [link] = re.findall(r'"http://localhost(/email/t/c/[^"]+)"', delivered.html)
    return link


def test_a_click_without_a_pixel_open_is_charted_as_an_open_too(
    client, login, manager, make_customer, make_list, call
):
    """A click proves an open the pixel missed: the counters said Opens 1 and the chart 0."""
    customers = [make_customer("North") for _ in range(2)]
    cid = _campaign(call, manager, make_list, customers)
    assert client.get(_click_link(customers[0].email)).status_code == 302
    doc = call(manager, "get", f"/campaigns/{cid}").get_json()
    assert doc["stats"]["opens"] == 1 and doc["stats"]["clicks"] == 1
    # the chart's series are cumulative unique opens and clicks: they end at the counters
    assert doc["timeline"]["opens"][-1] == doc["stats"]["uniqueOpens"] == 1
    assert doc["timeline"]["clicks"][-1] == doc["stats"]["uniqueClicks"] == 1
    assert doc["stats"]["openRate"] == 0.5
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{cid}").get_data(as_text=True)
    assert re.search(r'data-opens="\[[0-9, ]*1\]"', page)
    assert re.search(r'data-clicks="\[[0-9, ]*1\]"', page)
    assert re.search(r"Open rate</dt>\s*<dd[^>]*>50\.0%", page)


def test_only_the_actions_that_apply_are_offered(
    client, login, manager, make_customer, make_list, call
):
    cid = _campaign(call, manager, make_list, [make_customer("North")])
    doc = call(manager, "get", f"/campaigns/{cid}").get_json()
    assert doc["status"] == "sent" and doc["actions"] == []
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{cid}").get_data(as_text=True)
    for action in ("Pause", "Resume", "Cancel"):
        assert f">{action}</button>" not in page
    assert call(manager, "post", f"/campaigns/{cid}/pause").status_code == 409


def test_one_email_message_can_be_read_within_the_territory(
    app, manager, rep, make_customer, make_list, call
):
    north = make_customer("North")
    south = make_customer("South")
    cid = _campaign(call, manager, make_list, [north, south])
    rows = {
        m.customer_id: m
        for m in db.session.scalars(select(EmailMessage).where(EmailMessage.customer_id > 0))
    }
    doc = call(manager, "get", f"/email/messages/{rows[north.id].public_id}").get_json()
    assert doc["id"] == rows[north.id].public_id and doc["campaignId"] == cid
    assert doc["status"] == "sent" and doc["customerId"] == north.public_id
    assert doc["to"] == north.email and doc["sentAt"]
    assert call(rep, "get", f"/email/messages/{rows[north.id].public_id}").status_code == 200
    hidden = call(rep, "get", f"/email/messages/{rows[south.id].public_id}")
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "not_found"
    assert call(manager, "get", "/email/messages/eml_nope").status_code == 404
