"""Email topics: a person leaves one topic on the branded preference page and keeps the
rest; a campaign to a list tied to that topic skips them (per batch, with the reason)."""

from __future__ import annotations

import re

from sqlalchemy import select

from app import brand
from app.extensions import db
from app.messaging import consent, topics
from blueprints.email.models import EmailMessage
from blueprints.lists.models import EmailList


def _tie(list_public_id: str, topic: topics.Topic) -> None:
    lst = db.session.scalar(select(EmailList).where(EmailList.public_id == list_public_id))
    lst.topic_id = topic.id
    db.session.commit()


def _preferences_link(message: EmailMessage) -> str:
    found = re.findall(r'"http://localhost(/email/preferences/[^"]+)"', message.html)
    assert found, "no preferences link in the email"
    return found[0]


def test_leaving_one_topic_keeps_the_rest_on_the_branded_page(client, call, manager, make_customer):
    brand.update(
        company_name="Cellar & Co",
        logo_url="https://cellar.example/logo.png",
        primary_color="#225588",
        accent_color="#113355",
    )
    specials = topics.create_topic("Weekly specials")
    arrivals = topics.create_topic("New arrivals", "Wines just in")
    customer = make_customer(email="ann@shop.example")
    sent = call(
        manager,
        "post",
        "/email/send",
        json={"customerId": customer.public_id, "subject": "S", "html": "<p>Hi</p>"},
    )
    assert sent.status_code == 201
    link = _preferences_link(db.session.scalar(select(EmailMessage)))

    page = client.get(link)
    html = page.get_data(as_text=True)
    assert "Cellar &amp; Co" in html and 'src="https://cellar.example/logo.png"' in html
    assert "img-src 'self' data: https:" in page.headers["Content-Security-Policy"]
    assert html.count('name="topic"') == 2 and html.count(" checked") == 2

    saved = client.post(link, data={"action": "topics", "topic": [arrivals.public_id]})
    assert saved.status_code == 200 and 'data-testid="pref-outcome"' in saved.get_data(True)
    assert topics.left_topics("ANN@shop.example") == {specials.id}
    assert not consent.is_suppressed("email", "ann@shop.example")  # still on all else
    # and back again
    client.post(link, data={"action": "topics", "topic": [specials.public_id, arrivals.public_id]})
    assert topics.left_topics("ann@shop.example") == set()

    css = client.get("/brand.css")
    assert css.mimetype == "text/css" and "#225588" in css.get_data(as_text=True)


def test_a_campaign_to_a_topic_list_skips_those_who_left_the_topic(
    call, manager, make_customer, make_list
):
    specials = topics.create_topic("Weekly specials")
    events = topics.create_topic("Events")
    left_specials = make_customer(email="left-specials@shop.example")
    left_events = make_customer(email="left-events@shop.example")
    stayed = make_customer(email="stayed@shop.example")
    topics.set_preferences(left_specials.email, [events.id])
    topics.set_preferences(left_events.email, [specials.id])
    members = [left_specials, left_events, stayed]
    specials_list = make_list(manager, members, name="Specials")
    _tie(specials_list, specials)
    plain_list = make_list(manager, members, name="Everyone")

    for list_id in (specials_list, plain_list):
        r = call(
            manager,
            "post",
            "/email/send",
            json={"listId": list_id, "subject": "Hi", "html": "<p>Hi {{ customer_name }}</p>"},
        )
        assert r.status_code == 202, r.get_json()

    by_campaign: dict[int, dict[str, tuple[str, str | None]]] = {}
    for m in db.session.scalars(select(EmailMessage).where(EmailMessage.campaign_id.is_not(None))):
        by_campaign.setdefault(m.campaign_id, {})[m.to_address] = (m.status, m.error_message)
    first, second = (by_campaign[k] for k in sorted(by_campaign))
    assert first["left-specials@shop.example"] == (
        "suppressed",
        "left-specials@shop.example left the topic Weekly specials",
    )
    assert first["left-events@shop.example"][0] == "sent"
    assert first["stayed@shop.example"][0] == "sent"
    assert {status for status, _ in second.values()} == {"sent"}  # no topic: everyone


def test_list_api_ties_a_list_to_a_topic(call, manager):
    topic = topics.create_topic("Events")
    created = call(
        manager,
        "post",
        "/api/sales/marketing/lists",
        json={"name": "Tastings", "topicId": topic.public_id},
    )
    assert created.status_code == 201 and created.get_json()["topicId"] == topic.public_id
    lid = created.get_json()["id"]
    bad = call(manager, "patch", f"/api/sales/marketing/lists/{lid}", json={"topicId": "top_nope"})
    assert bad.status_code == 404 and "topicId" in bad.get_json()["error"]["fields"]
    cleared = call(manager, "patch", f"/api/sales/marketing/lists/{lid}", json={"topicId": None})
    assert cleared.status_code == 200 and cleared.get_json()["topicId"] is None
