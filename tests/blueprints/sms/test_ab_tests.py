"""A/B tests on SMS campaigns, end to end through Twilio's fake: variants of the body
(and the send time) through the API and the compose page, the test share texted with
each recipient's variant, real replies through the signed inbound webhook (a STOP is
no reply), the decision on the reply rate, and the rest of the list texted the winner
exactly once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.experiments import campaigns as ab_tests
from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.sms.models import SmsMessage
from tests.conftest import csrf_from

CAMPAIGNS = "/api/sales/marketing/campaigns"
NEW = "/sales/marketing/campaigns/new"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "AB_MIN_SAMPLE": 5}


@pytest.fixture
def audience(call, manager, make_customer, opt_in):
    customers = [make_customer(name=f"Taster {i}") for i in range(60)]
    for customer in customers:
        opt_in(customer)
    lst = call(manager, "post", "/api/sales/marketing/lists", json={"name": "Texts"}).get_json()
    r = call(
        manager,
        "post",
        f"/api/sales/marketing/lists/{lst['id']}/members",
        json={"customerIds": [c.public_id for c in customers]},
    )
    assert r.status_code == 200, r.get_json()
    return lst["id"], customers


def _draft(call, user, list_id, **extra):
    body = {
        "channel": "sms",
        "listId": list_id,
        "body": "New Barolo in, {{ customer_name }}",
        "variants": [{}, {"body": "Barolo for you, {{ customer_name }}? Reply YES"}],
        "testShare": 0.5,
        "waitMinutes": 60,
        **extra,
    }
    return call(user, "post", CAMPAIGNS, json=body)


def _campaign(data) -> Campaign:
    db.session.expire_all()
    return db.session.scalar(select(Campaign).where(Campaign.public_id == data["id"]))


def _rows(campaign: Campaign) -> list[SmsMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.campaign_id == campaign.id, SmsMessage.direction == "outbound")
            .order_by(SmsMessage.id)
        )
    )


def _decide_now(campaign: Campaign) -> None:
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(ab_decide_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    ab_tests.decide_winner(campaign.id)


def test_the_variant_people_reply_to_wins_and_the_rest_get_it(
    call, manager, audience, inbound, fake_twilio
):
    list_id, customers = audience
    draft = _draft(call, manager, list_id)
    assert draft.status_code == 201, draft.get_json()
    draft = draft.get_json()
    assert draft["abTest"]["winnerBy"] == "replyRate"  # SMS's default: links are not tracked
    assert draft["abTest"]["variants"][1]["body"].startswith("Barolo for you")
    assert call(manager, "post", f"{CAMPAIGNS}/{draft['id']}/send").status_code == 202
    campaign = _campaign(draft)

    rows = _rows(campaign)
    assert len(rows) == len(customers)
    tested = [r for r in rows if r.variant is not None]
    assert {r.status for r in tested} == {"sent"} and {r.variant for r in tested} == {0, 1}
    assert {r.status for r in rows if r.variant is None} == {"queued"}
    by_phone = {m.to: m.body for m in fake_twilio.received}
    assert len(fake_twilio.received) == len(tested)
    names = {c.phone: c.name for c in customers}
    for row in tested:  # each recipient's text is its variant's
        expected = (
            f"New Barolo in, {names[row.to_address]}"
            if row.variant == 0
            else f"Barolo for you, {names[row.to_address]}? Reply YES"
        )
        assert by_phone[row.to_address] == expected

    # B's recipients answer; one of A's texts STOP, which is no reply
    first_a = next(r for r in tested if r.variant == 0)
    assert inbound(first_a.to_address, "STOP").status_code == 200
    for row in tested:
        if row.variant == 1:
            assert inbound(row.to_address, "Yes please, 2 cases").status_code == 200
    answered = _rows(campaign)
    assert {r.variant for r in answered if r.replied_at is not None} == {1}
    ab_tests.decide_winner(campaign.id)  # too early: nothing is decided
    assert _campaign(draft).ab_decision is None
    _decide_now(campaign)

    data = call(manager, "get", f"{CAMPAIGNS}/{draft['id']}").get_json()
    decision = data["abTest"]["decision"]
    assert decision["winner"] == "B" and decision["declared"], decision
    assert data["abTest"]["variants"][1]["winProbability"] == decision["winProbability"]["B"] > 0.95
    assert data["abTest"]["variants"][1]["results"]["replyRate"] == 1.0
    assert data["abTest"]["variants"][0]["results"]["replyRate"] == 0.0
    assert data["abTest"]["rates"] == ["replyRate"]

    # every number got exactly one text (A's STOP one nothing more); the rest got B's
    sent = Counter(m.to for m in fake_twilio.received)
    assert set(sent.values()) == {1}
    rest = {r.to_address for r in rows if r.variant is None}
    assert rest <= set(sent)
    assert all(m.body.startswith("Barolo for you") for m in fake_twilio.received if m.to in rest)
    assert {r.variant for r in _rows(campaign)} == {0, 1}
    ab_tests.decide_winner(campaign.id)  # a repeated job changes nothing
    assert len(fake_twilio.received) == len(customers)


def test_equal_variants_fall_back(call, manager, audience, fake_twilio):
    list_id, _ = audience
    draft = _draft(call, manager, list_id, fallbackVariant="B").get_json()
    call(manager, "post", f"{CAMPAIGNS}/{draft['id']}/send")
    _decide_now(_campaign(draft))
    decision = _campaign(draft).ab_decision
    assert decision["winner"] == "B" and not decision["declared"]
    assert "no variant is best" in decision["reason"]


def _campaigns() -> int:
    return db.session.scalar(select(func.count()).select_from(Campaign)) or 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"variants": [{"subject": "Hi"}, {}]}, "variants[0].subject"),
        ({"variants": [{}, {"fromName": "Anna"}]}, "variants[1].fromName"),
        ({"variants": [{}, {"body": "x" * 1700}]}, "variants[1].body"),
        ({"variants": [{}, {"templateId": "tpl_nope"}]}, "variants[1].templateId"),
        ({"variants": [{}]}, "variants"),
        ({"winnerBy": "humanClickRate"}, "winnerBy"),
        ({"winnerBy": "loudest"}, "winnerBy"),
        ({"testShare": 0}, "testShare"),
        ({"waitMinutes": 0}, "waitMinutes"),
        ({"fallbackVariant": "Z"}, "fallbackVariant"),
    ],
)
def test_bad_sms_ab_settings_are_422_naming_the_field(call, manager, audience, extra, field):
    list_id, _ = audience
    r = _draft(call, manager, list_id, **extra)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"], r.get_json()
    assert _campaigns() == 0


def test_variants_on_the_sms_compose_page(client, login, manager, audience):
    list_id, _ = audience
    login(manager)
    page = client.get(f"{NEW}?channel=sms").get_data(as_text=True)
    assert 'data-testid="ab-settings"' in page and 'for="variants-1-body"' in page
    assert 'for="variants-1-subject"' not in page and 'for="variants-1-from_name"' not in page
    winner = re.search(r'<select[^>]*id="winner_by".*?</select>', page, re.S).group(0)
    assert re.findall(r'value="(\w+)"', winner) == ["replyRate", "revenuePerRecipient"]
    form = {
        "csrf_token": csrf_from(page),
        "channel": "sms",
        "name": "Barolo A/B",
        "list_id": list_id,
        "template_id": "",
        "body": "New Barolo in",
        "next": "draft",
        "ab_enabled": "y",
        "ab_variant_count": "2",
        "variants-0-body": "",  # a browser posts every field (wtforms numbers what it gets)
        "variants-1-body": "Barolo? Reply YES",
        "variants-1-send_delay_minutes": "30",
        "test_share": "30",
        "wait_minutes": "120",
        "winner_by": "replyRate",
        "fallback_variant": "A",
    }
    refused = client.post(NEW, data={**form, "variants-1-body": "{% for %}"})
    assert refused.status_code == 422 and _campaigns() == 0
    text = refused.get_data(as_text=True)
    assert 'data-testid="error-variants-1-body"' in text and "New Barolo in" in text
    assert client.post(NEW, data=form).status_code == 302
    settings = db.session.scalar(select(Campaign)).ab_test
    assert settings["variants"][1]["body"] == "Barolo? Reply YES"
    assert settings["variants"][1]["sendDelayMinutes"] == 30
    assert (settings["testShare"], settings["winnerBy"]) == (0.3, "replyRate")
