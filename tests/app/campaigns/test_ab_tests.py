"""A/B tests on a campaign, end to end: the settings through the API (422 naming the
field), the test share split across the variants (stable, disjoint), each recipient's
message rendered with its variant, the decision job on real human clicks and attributed
orders, and the rest of the audience sent the winner (or the fallback) exactly once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.experiments import assignment
from app.experiments import campaigns as ab_tests
from app.extensions import db
from app.jobs import ScheduledJob
from app.messaging import delivery
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import csrf_from

BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
HTML = '<p>Our <a href="https://wine.example/barolo">Barolo</a>, {{ customer_name }}</p>'


@pytest.fixture
def app_config(app_config):
    return {**app_config, "AB_MIN_SAMPLE": 5}


@pytest.fixture
def audience(manager, make_customer, make_list):
    customers = [make_customer(email=f"taster{i}@example.com") for i in range(80)]
    return make_list(manager, customers, name="Tasters"), customers


def _ab_draft(call, user, list_id, **extra):
    body = {
        "channel": "email",
        "listId": list_id,
        "subject": "Autumn release",
        "html": HTML,
        "variants": [
            {"subject": "Plain subject"},
            {"subject": "Barolo for {{ customer_name }}", "fromName": "Anna at Decant"},
        ],
        "testShare": 0.5,
        "waitMinutes": 60,
        **extra,
    }
    return call(user, "post", "/campaigns", json=body)


def _campaign(data) -> Campaign:
    db.session.expire_all()
    return db.session.scalar(select(Campaign).where(Campaign.public_id == data["id"]))


def _rows(campaign: Campaign) -> list[EmailMessage]:
    return list(
        db.session.scalars(
            select(EmailMessage)
            .where(EmailMessage.campaign_id == campaign.id)
            .order_by(EmailMessage.id)
        )
    )


def _click_as_a_person(client, message: EmailMessage) -> None:
    """The recipient's first tracked link, clicked by a browser an hour after the send
    (a click seconds after sending is a scanner's)."""
    db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message.id)
        .values(sent_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    delivered = next(m for m in dev_messages() if m.to == message.to_address)
    link = re.search(r'href="http://localhost(/email/t/c/[^"]+)"', delivered.html).group(1)
    assert client.get(link, headers={"User-Agent": BROWSER}).status_code == 302


def _decide_now(campaign: Campaign) -> None:
    """The decision job's time has come: run it as the scheduler would."""
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(ab_decide_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    ab_tests.decide_winner(campaign.id)


# --- the API -------------------------------------------------------------------------


def test_a_draft_takes_ab_settings_with_defaults_and_shows_them(call, manager, audience):
    list_id, _ = audience
    r = _ab_draft(call, manager, list_id, testShare=None, waitMinutes=None)
    assert r.status_code == 201, r.get_json()
    ab = r.get_json()["abTest"]
    assert [v["name"] for v in ab["variants"]] == ["A", "B"]
    assert (ab["testShare"], ab["waitMinutes"], ab["winnerBy"]) == (0.2, 240, "humanClickRate")
    assert ab["fallbackVariant"] == "A" and ab["decision"] is None
    assert ab["variants"][1]["fromName"] == "Anna at Decant"
    assert ab["variants"][0]["html"] is None  # a variant stores only what it changes

    r = call(manager, "patch", f"/campaigns/{r.get_json()['id']}", json={"waitMinutes": 30})
    assert r.status_code == 200 and r.get_json()["abTest"]["waitMinutes"] == 30
    assert r.get_json()["abTest"]["variants"][1]["subject"].startswith("Barolo")
    r = call(manager, "patch", f"/campaigns/{r.get_json()['id']}", json={"variants": []})
    assert r.status_code == 200 and r.get_json()["abTest"] is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"variants": [{"subject": "Only one"}]}, "variants"),
        ({"variants": [{}, {}, {}, {}, {}]}, "variants"),
        ({"testShare": 0}, "testShare"),
        ({"testShare": 1.5}, "testShare"),
        ({"waitMinutes": 0}, "waitMinutes"),
        ({"winnerBy": "vibes"}, "winnerBy"),
        ({"fallbackVariant": "Z"}, "fallbackVariant"),
        ({"variants": [{"name": "X"}, {"name": "X"}]}, "variants[1].name"),
        ({"variants": [{}, {"fromName": "Eve\r\nBcc: all"}]}, "variants[1].fromName"),
        ({"variants": [{}, {"templateId": "tpl_nope"}]}, "variants[1].templateId"),
        ({"variants": [{}, {"sendDelayMinutes": -5}]}, "variants[1].sendDelayMinutes"),
        ({"variants": [{}, {"colour": "red"}]}, "variants[1].colour"),
    ],
)
def test_bad_ab_settings_are_422_naming_the_field(call, manager, audience, extra, field):
    list_id, _ = audience
    r = _ab_draft(call, manager, list_id, **extra)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"], r.get_json()
    assert db.session.scalar(select(Campaign)) is None


def test_settings_without_variants_are_refused_and_email_variants_change_no_body(
    call, manager, audience
):
    list_id, _ = audience
    r = call(
        manager,
        "post",
        "/campaigns",
        json={"channel": "email", "listId": list_id, "subject": "s", "html": HTML,
              "waitMinutes": 30},
    )  # fmt: skip
    assert r.status_code == 422 and "variants" in r.get_json()["error"]["fields"]
    r = _ab_draft(call, manager, list_id, variants=[{}, {"body": "Hi"}])  # SMS's field
    assert r.status_code == 422 and "variants[1].body" in r.get_json()["error"]["fields"]
    r = _ab_draft(call, manager, list_id, winnerBy="replyRate")  # SMS's measure
    assert r.status_code == 422 and "winnerBy" in r.get_json()["error"]["fields"]


# --- assignment ------------------------------------------------------------------------


def test_the_split_is_stable_disjoint_and_near_the_test_share():
    shares = [0.1, 0.1]
    groups = Counter(assignment.variant_for(7, customer, shares) for customer in range(20_000))
    assert abs(groups[0] / 20_000 - 0.1) < 0.01 and abs(groups[1] / 20_000 - 0.1) < 0.01
    assert abs(groups[None] / 20_000 - 0.8) < 0.015
    again = [assignment.variant_for(7, customer, shares) for customer in range(500)]
    assert again == [assignment.variant_for(7, customer, shares) for customer in range(500)]


# --- end to end ------------------------------------------------------------------------


def test_a_clearly_better_variant_wins_and_the_rest_get_it(client, call, manager, audience):
    list_id, customers = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    assert call(manager, "post", f"/campaigns/{draft['id']}/send").status_code == 202
    campaign = _campaign(draft)

    # the test share went out, split across the variants; the rest waits
    rows = _rows(campaign)
    assert len(rows) == len(customers)
    tested = [r for r in rows if r.variant is not None]
    expected = {
        r.id: assignment.variant_for(campaign.id, r.customer_id, [0.25, 0.25]) for r in rows
    }
    assert {r.id: r.variant for r in rows} == expected
    assert {r.status for r in tested} == {"sent"}
    rest = {r.to_address for r in rows if r.variant is None}
    assert {r.status for r in rows if r.variant is None} == {"queued"} and rest
    assert len(dev_messages()) == len(tested) and campaign.status == "sending"
    by_address = {m.to: m for m in dev_messages()}
    for row in tested:  # each recipient's message is its variant's
        sent = by_address[row.to_address]
        if row.variant == 0:
            assert sent.subject == "Plain subject" and "Anna" not in sent.meta["from"]
        else:
            assert sent.subject.startswith("Barolo for Customer")
            assert sent.meta["from"].startswith("Anna at Decant <")
    job = db.session.scalars(
        select(ScheduledJob).where(ScheduledJob.func.like("%decide_winner"))
    ).one()
    assert job.run_at >= utcnow() + timedelta(minutes=59)

    # people click variant B; nobody clicks A
    for row in tested:
        if row.variant == 1:
            _click_as_a_person(client, row)
    ab_tests.decide_winner(campaign.id)  # too early: nothing is decided
    assert _campaign(draft).ab_decision is None
    _decide_now(campaign)

    data = call(manager, "get", f"/campaigns/{draft['id']}").get_json()
    decision = data["abTest"]["decision"]
    assert decision["winner"] == "B" and decision["declared"]
    assert decision["winProbability"]["B"] > 0.95 and "B is best" in decision["reason"]
    assert data["abTest"]["variants"][1]["winProbability"] == decision["winProbability"]["B"]
    assert data["abTest"]["variants"][1]["results"]["humanClickRate"] == 1.0
    assert data["status"] == "sent"

    # every recipient got exactly one message; the rest got B's
    sent = Counter(m.to for m in dev_messages())
    assert sorted(sent) == sorted(c.email for c in customers) and set(sent.values()) == {1}
    assert {m.subject.split(" for ")[0] for m in dev_messages() if m.to in rest} == {"Barolo"}
    assert {r.variant for r in _rows(campaign)} == {0, 1}

    ab_tests.decide_winner(campaign.id)  # a repeated job changes nothing
    assert _campaign(draft).ab_decision["decidedAt"] == decision["decidedAt"]
    assert len(dev_messages()) == len(customers)


def test_equal_variants_fall_back_with_the_reason(call, manager, audience):
    list_id, customers = audience
    draft = _ab_draft(call, manager, list_id, fallbackVariant="B").get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    _decide_now(campaign)  # nobody clicked either: no variant is better
    decision = _campaign(draft).ab_decision
    assert (decision["winner"], decision["declared"]) == ("B", False)
    assert "no variant is best" in decision["reason"]
    assert len(dev_messages()) == len(customers)
    assert {r.variant for r in _rows(campaign) if r.variant is not None} == {0, 1}


def test_too_small_a_sample_falls_back_whatever_the_clicks(client, app, call, manager, audience):
    app.config["AB_MIN_SAMPLE"] = 1_000
    list_id, customers = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    for row in _rows(campaign):
        if row.variant == 1:
            _click_as_a_person(client, row)
    _decide_now(campaign)
    decision = _campaign(draft).ab_decision
    assert (decision["winner"], decision["declared"]) == ("A", False)
    assert "too few recipients" in decision["reason"]
    assert decision["winProbability"]["B"] > 0.95  # B looked better, but the sample is small
    rest = {r.to_address for r in _rows(campaign) if r.variant is None}
    assert not rest  # all released, to A
    assert len(dev_messages()) == len(customers)


def test_revenue_per_recipient_counts_attributed_orders(client, call, manager, audience):
    """B's recipients click, then order: the attribution engine credits their orders to
    B's messages, and revenue per recipient makes B the winner."""
    from app.attribution.engine import attribute_customers
    from app.crm.models import Order

    list_id, _ = audience
    draft = _ab_draft(call, manager, list_id, winnerBy="revenuePerRecipient").get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    buyers = []
    for row in _rows(campaign):
        if row.variant == 1:
            _click_as_a_person(client, row)
            db.session.add(
                Order(customer_id=row.customer_id, order_date=date.today(), total=Decimal("480"))
            )
            buyers.append(row.customer_id)
    db.session.commit()
    attribute_customers(buyers)
    db.session.commit()
    results = {o["name"]: o for o in ab_tests.outcomes(campaign)}
    assert results["B"]["revenuePerRecipient"] == 480.0 and results["A"]["revenue"] == 0
    _decide_now(campaign)
    assert _campaign(draft).ab_decision["winner"] == "B"


def test_a_second_decision_job_racing_the_first_changes_nothing(call, manager, audience):
    """Two decision jobs at once (a retried job, the watchdog's): the one that read the
    campaign before the other stored its decision must not overwrite it nor release."""
    from sqlalchemy.orm.attributes import set_committed_value

    list_id, _ = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    waiting = {r.id for r in _rows(campaign) if r.variant is None}
    first = {"winner": "A", "declared": False, "reason": "the first job", "decidedAt": "x"}
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(ab_decide_at=utcnow() - timedelta(seconds=1), ab_decision=first)
    )
    db.session.commit()
    campaign = db.session.get(Campaign, campaign.id)
    set_committed_value(campaign, "ab_decision", None)  # read before the first job committed
    ab_tests.decide_winner(campaign.id)
    assert _campaign(draft).ab_decision == first
    assert {r.id for r in _rows(campaign) if r.variant is None} == waiting


def test_a_paused_campaign_is_decided_and_its_rest_waits_for_resume(call, manager, audience):
    list_id, customers = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    tested = len(dev_messages())
    assert call(manager, "post", f"/campaigns/{draft['id']}/pause").status_code == 200
    _decide_now(campaign)
    assert _campaign(draft).ab_decision is not None and len(dev_messages()) == tested
    assert call(manager, "post", f"/campaigns/{draft['id']}/resume").status_code == 200
    assert len(dev_messages()) == len(customers)


def test_a_lost_decision_job_is_queued_again_by_the_watchdog(call, manager, audience):
    list_id, customers = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    campaign = _campaign(draft)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(ab_decide_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    delivery.resume_campaigns()  # inline: the queued decision runs at once
    assert _campaign(draft).ab_decision is not None
    assert len(dev_messages()) == len(customers)


def test_the_campaign_page_shows_variants_and_decision(client, call, manager, audience, login):
    list_id, _ = audience
    draft = _ab_draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    _decide_now(_campaign(draft))
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{draft['id']}").get_data(as_text=True)
    assert 'data-testid="ab-test"' in page and "Sender: Anna at Decant" in page
    decision = re.search(r'data-testid="ab-decision">(.*?)</p>', page, re.S).group(1)
    assert "Winner: A" in decision and "the fallback: no variant is best" in decision
    row = re.search(r'<tr data-variant="B".*?</tr>', page, re.S).group(0)
    probability = _campaign(draft).ab_decision["winProbability"]["B"]
    assert f"{probability * 100:.1f}%" in row and "0.0%" in row  # nobody clicked


NEW = "/sales/marketing/campaigns/new"


def _compose(client, list_id, **fields):
    page = client.get(f"{NEW}?channel=email").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "channel": "email",
        "name": "Autumn A/B",
        "list_id": list_id,
        "template_id": "",
        "subject": "Autumn release",
        "html": "<p>New Barolo is in.</p>",
        "next": "draft",
        "ab_enabled": "y",
        "ab_variant_count": "3",
        "variants-0-subject": "",
        "variants-1-subject": "Barolo, {{ customer_name }}?",
        "variants-2-from_name": "Anna at Decant",
        "variants-2-send_delay_minutes": "30",
        "test_share": "30",
        "wait_minutes": "120",
        "winner_by": "humanOpenRate",
        "fallback_variant": "B",
        **fields,
    }
    return page, client.post(NEW, data=data)


def test_a_manager_adds_variants_on_the_compose_page(client, login, manager, audience):
    list_id, _ = audience
    login(manager)
    page, response = _compose(client, list_id)
    assert 'data-testid="ab-settings"' in page and 'for="variants-1-subject"' in page
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    campaign = db.session.scalar(select(Campaign))
    settings = campaign.ab_test
    assert [v["name"] for v in settings["variants"]] == ["A", "B", "C"]
    assert settings["variants"][1]["subject"] == "Barolo, {{ customer_name }}?"
    assert settings["variants"][2]["fromName"] == "Anna at Decant"
    assert settings["variants"][2]["sendDelayMinutes"] == 30
    assert (settings["testShare"], settings["waitMinutes"]) == (0.3, 120)
    assert (settings["winnerBy"], settings["fallbackVariant"]) == ("humanOpenRate", "B")

    review = client.get(f"/sales/marketing/campaigns/{campaign.public_id}/review")
    assert "30% get variants A, B, C first; 120 minutes" in review.get_data(as_text=True)

    # the edit page shows them again; unticking the box removes the test
    edit = client.get(f"/sales/marketing/campaigns/{campaign.public_id}/edit")
    text = edit.get_data(as_text=True)
    assert 'value="Anna at Decant"' in text
    assert re.search(r'<input[^>]*checked[^>]*id="ab_enabled"', text)
    form = {
        "csrf_token": csrf_from(text),
        "channel": "email",
        "name": "Autumn A/B",
        "list_id": list_id,
        "subject": "Autumn release",
        "html": "<p>New Barolo is in.</p>",
        "next": "draft",
    }
    saved = client.post(f"/sales/marketing/campaigns/{campaign.public_id}/edit", data=form)
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).ab_test is None


def test_a_bad_variant_is_shown_beside_its_field_and_nothing_saved(
    client, login, manager, audience
):
    list_id, _ = audience
    login(manager)
    _page, response = _compose(
        client, list_id, **{"variants-1-html": "<p>{% for %}</p>", "fallback_variant": "D"}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'data-testid="error-variants-1-html"' in text
    assert "Autumn release" in text  # what was typed is kept
    assert db.session.scalar(select(Campaign)) is None
