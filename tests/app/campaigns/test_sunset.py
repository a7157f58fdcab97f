"""The sunset policy: email campaigns skip sunset customers by default (counted in the
review and on the campaign), include them when asked, a list may override the policy; the
sunset report and its CSV; the one-click re-permission campaign, end to end; the
"clicked campaign" and "opened but did not order" smart-list criteria."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.crm.models import Customer, Order
from app.engagement.score import rescore_everyone
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import csrf_from

API = "/api/sales/marketing"
HTML = '<p>New <a href="https://wine.example/barolo">Barolo</a></p>'


def _emails(customer, count: int, days_ago: int = 20, campaign_id=None) -> list[EmailMessage]:
    sent = utcnow() - timedelta(days=days_ago)
    messages = [
        EmailMessage(
            customer_id=customer.id,
            campaign_id=campaign_id,
            to_address=customer.email,
            subject=f"Specials {n}",
            status="sent",
            sent_at=sent,
        )
        for n in range(count)
    ]
    db.session.add_all(messages)
    db.session.commit()
    return messages


@pytest.fixture
def audience(manager, make_customer, make_list):
    """A list of two: one sunset (ten unanswered emails), one who clicked last week."""
    quiet = make_customer("North", name="Quiet Cellar", email="quiet@example.com")
    keen = make_customer("North", name="Keen Bistro", email="keen@example.com")
    _emails(quiet, 10)
    (message,) = _emails(keen, 1)
    tracking.record_engagement(message, "click", at=utcnow() - timedelta(days=7))
    rescore_everyone()
    db.session.expire_all()
    assert (quiet.engagement_state, keen.engagement_state) == ("sunset", "at_risk")
    return make_list(manager, [quiet, keen], name="Cellar club"), quiet, keen


def _campaign(call, user, list_id, **extra):
    body = {"channel": "email", "listId": list_id, "subject": "Autumn", "html": HTML, **extra}
    r = call(user, "post", "/campaigns", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _send(call, user, campaign):
    r = call(user, "post", f"/campaigns/{campaign['id']}/send")
    assert r.status_code == 202, r.get_json()
    return call(user, "get", f"/campaigns/{campaign['id']}").get_json()


def _sent_to() -> list[str]:
    return sorted(m.to for m in dev_messages())


def test_email_campaigns_skip_sunset_customers_and_count_them(call, manager, audience):
    list_id, quiet, keen = audience
    draft = _campaign(call, manager, list_id)
    assert draft["includeSunset"] is False and draft["sunsetSkipped"] is None
    review = call(manager, "get", f"/campaigns/{draft['id']}/review").get_json()
    assert review["audience"]["sunset"] == 1
    assert review["audience"]["recipients"] == 1 and review["audience"]["excluded"] == 1
    sent = _send(call, manager, draft)
    assert _sent_to() == [keen.email]
    assert sent["sunsetSkipped"] == 1 and sent["recipientsTotal"] == 1


def test_a_campaign_may_include_sunset_customers(call, manager, audience):
    list_id, quiet, keen = audience
    draft = _campaign(call, manager, list_id, includeSunset=True)
    review = call(manager, "get", f"/campaigns/{draft['id']}/review").get_json()
    assert review["audience"]["sunset"] == 0 and review["audience"]["recipients"] == 2
    sent = _send(call, manager, draft)
    assert _sent_to() == sorted([quiet.email, keen.email]) and sent["sunsetSkipped"] == 0


def test_the_opt_in_is_an_edit_of_the_draft_too(call, manager, audience):
    list_id, quiet, keen = audience
    draft = _campaign(call, manager, list_id)
    r = call(manager, "patch", f"/campaigns/{draft['id']}", json={"includeSunset": True})
    assert r.status_code == 200 and r.get_json()["includeSunset"] is True
    _send(call, manager, draft)
    assert _sent_to() == sorted([quiet.email, keen.email])


def test_a_list_may_always_include_sunset_customers(call, manager, audience):
    list_id, quiet, keen = audience
    r = call(manager, "patch", f"/lists/{list_id}", json={"sunsetPolicy": {"mode": "include"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["sunsetPolicy"]["mode"] == "include"
    _send(call, manager, _campaign(call, manager, list_id))
    assert _sent_to() == sorted([quiet.email, keen.email])


def test_a_list_may_set_its_own_sunset_rule(call, manager, make_customer, make_list):
    # three unanswered emails this month: not sunset by the default rule (10 in 180 days)
    tired = make_customer("North", name="Tired", email="tired@example.com")
    fresh = make_customer("North", name="Fresh", email="fresh@example.com")
    _emails(tired, 3, days_ago=5)
    _emails(fresh, 2, days_ago=5)
    rescore_everyone()
    db.session.expire_all()
    assert tired.engagement_state == "at_risk"
    list_id = make_list(manager, [tired, fresh])
    policy = {"mode": "custom", "minEmails": 3, "days": 30}
    r = call(manager, "patch", f"/lists/{list_id}", json={"sunsetPolicy": policy})
    assert r.status_code == 200 and r.get_json()["sunsetPolicy"] == policy
    draft = _campaign(call, manager, list_id)
    review = call(manager, "get", f"/campaigns/{draft['id']}/review").get_json()
    assert review["audience"]["sunset"] == 1
    sent = _send(call, manager, draft)
    assert _sent_to() == [fresh.email] and sent["sunsetSkipped"] == 1


def test_a_custom_rule_needs_its_thresholds(call, manager, make_list):
    list_id = make_list(manager, [])
    r = call(manager, "patch", f"/lists/{list_id}", json={"sunsetPolicy": {"mode": "custom"}})
    assert r.status_code == 422
    assert "sunsetPolicy" in r.get_json()["error"]["fields"]
    r = call(
        manager,
        "patch",
        f"/lists/{list_id}",
        json={"sunsetPolicy": {"mode": "custom", "minEmails": 3, "days": 400}},
    )
    assert r.status_code == 422 and "sunsetPolicy.days" in r.get_json()["error"]["fields"]


def test_sms_campaigns_are_not_sunset(app, manager, audience):
    from app.engagement import sunset

    list_id, *_ = audience
    sms = Campaign(channel="sms", name="Text", audience_type="list", audience_ref=list_id)
    assert sunset.policy_for(sms).mode == sunset.INCLUDE


# --- the report -------------------------------------------------------------------------


def test_the_sunset_report_lists_who_since_when_and_why(call, manager, rep, make_user, audience):
    list_id, quiet, keen = audience
    r = call(manager, "get", f"{API}/sunset")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 1
    (row,) = body["items"]
    assert row["id"] == quiet.public_id and row["emailsReceived"] == 10
    assert row["sunsetSince"] is not None and row["lastEngagedAt"] is None
    # the day a customer went sunset is kept by later rescores
    rescore_everyone()
    assert (
        call(manager, "get", f"{API}/sunset").get_json()["items"][0]["sunsetSince"]
        == (row["sunsetSince"])
    )
    # a rep sees their own territory only
    assert call(rep, "get", f"{API}/sunset").get_json()["total"] == 1
    south = make_user("rep", "South")
    assert call(south, "get", f"{API}/sunset").get_json()["total"] == 0


def test_the_sunset_report_page_and_its_csv(client, login, manager, audience):
    list_id, quiet, keen = audience
    login(manager)
    page = client.get("/sales/marketing/sunset")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert quiet.name in text and keen.name not in text
    assert 'data-testid="re-permission"' in text
    assert "/sales/marketing/sunset" in client.get("/sales/marketing/dashboard").get_data(
        as_text=True
    )
    exported = client.get("/sales/marketing/sunset.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["customer_id"], r["emails_received"]) for r in rows] == [(quiet.public_id, "10")]


def test_the_report_needs_a_login(client):
    assert client.get("/sales/marketing/sunset").status_code in (302, 401)
    assert client.get(f"{API}/sunset").status_code == 401


# --- re-permission ----------------------------------------------------------------------


def _keep_me_link(message) -> str:
    links = re.findall(r'href="(http[^"]*/email/t/c/[^"]+)"', message.html)
    assert links, message.html
    return links[0]


def test_re_permission_campaign_brings_those_who_answer_back(
    app, call, client, manager, make_customer, audience
):
    list_id, quiet, keen = audience
    silent = make_customer("North", name="Silent", email="silent@example.com")
    _emails(silent, 12)
    rescore_everyone()
    r = call(manager, "post", f"{API}/sunset/re-permission")
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert draft["includeSunset"] is True and draft["status"] == "draft"
    review = call(manager, "get", f"/campaigns/{draft['id']}/review").get_json()
    assert review["audience"]["recipients"] == 2 and review["audience"]["sunset"] == 0
    assert "Yes, keep me" in review["preview"]["html"]
    _send(call, manager, draft)
    assert _sent_to() == sorted([quiet.email, silent.email])
    (to_quiet,) = [m for m in dev_messages() if m.to == quiet.email]
    # the person reads it a minute later (a click within seconds is a scanner's)
    db.session.execute(
        update(EmailMessage).values(sent_at=utcnow() - timedelta(minutes=1), delivered_at=None)
    )
    db.session.commit()
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Macintosh) Safari/605.1.15"
    clicked = client.get(_keep_me_link(to_quiet))
    assert clicked.status_code == 302 and clicked.location.endswith("/stay-subscribed")
    landing = client.get("/stay-subscribed")
    assert landing.status_code == 200 and "keep writing to you" in landing.get_data(as_text=True)
    db.session.expire_all()
    assert quiet.engagement_state != "sunset" and quiet.sunset_at is None
    assert silent.engagement_state == "sunset"
    assert [r["id"] for r in call(manager, "get", f"{API}/sunset").get_json()["items"]] == [
        silent.public_id
    ]


def test_a_scanners_click_does_not_bring_anyone_back(call, client, manager, audience):
    list_id, quiet, keen = audience
    draft = call(manager, "post", f"{API}/sunset/re-permission").get_json()
    _send(call, manager, draft)
    (to_quiet,) = [m for m in dev_messages() if m.to == quiet.email]
    clicked = client.get(_keep_me_link(to_quiet))  # seconds after sending: a scanner
    assert clicked.status_code == 302
    db.session.expire_all()
    assert quiet.engagement_state == "sunset"


def test_re_permission_with_nobody_sunset_is_422(call, manager):
    r = call(manager, "post", f"{API}/sunset/re-permission")
    assert r.status_code == 422 and "audience" in r.get_json()["error"]["fields"]


def test_re_permission_from_the_page(client, login, manager, audience):
    login(manager)
    page = client.get("/sales/marketing/sunset").get_data(as_text=True)
    r = client.post("/sales/marketing/sunset/re-permission", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302 and "/review" in r.location
    campaign = db.session.scalar(select(Campaign))
    assert campaign is not None and campaign.include_sunset


def test_the_compose_page_offers_the_opt_in(client, login, manager, audience):
    list_id, *_ = audience
    login(manager)
    page = client.get("/sales/marketing/campaigns/new?channel=email").get_data(as_text=True)
    assert 'name="include_sunset"' in page
    r = client.post(
        "/sales/marketing/campaigns/new",
        data={
            "csrf_token": csrf_from(page),
            "channel": "email",
            "list_id": list_id,
            "subject": "Autumn",
            "html": HTML,
            "include_sunset": "y",
            "next": "draft",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.scalar(select(Campaign.include_sunset)) is True


def test_the_list_form_keeps_a_sunset_policy(client, login, manager):
    login(manager)
    page = client.get("/sales/marketing/lists/new").get_data(as_text=True)
    assert 'name="sunset_policy"' in page
    r = client.post(
        "/sales/marketing/lists/new",
        data={
            "csrf_token": csrf_from(page),
            "name": "Own rule",
            "sunset_policy": "custom",
            "sunset_min_emails": "5",
            "sunset_days": "60",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    from blueprints.lists.models import EmailList

    lst = db.session.scalar(select(EmailList))
    assert (lst.sunset_policy, lst.sunset_min_emails, lst.sunset_days) == ("custom", 5, 60)
    detail = client.get(r.location).get_data(as_text=True)
    assert "skipped after 5 emails in 60 days" in detail
    edit = client.get(f"/sales/marketing/lists/{lst.public_id}/edit").get_data(as_text=True)
    assert '<option selected value="custom">' in edit and 'value="60"' in edit


# --- criteria ---------------------------------------------------------------------------


def _preview(call, user, criteria):
    return call(user, "post", f"{API}/lists/preview", json={"criteria": criteria})


def _names(answer) -> list[str]:
    assert answer.status_code == 200, answer.get_json()
    return sorted(c["name"] for c in answer.get_json()["sample"])


def test_clicked_campaign_counts_human_clicks_only(call, manager, make_customer):
    person = make_customer("North", name="Person", email="p@example.com")
    scanned = make_customer("North", name="Scanned", email="s@example.com")
    elsewhere = make_customer("North", name="Elsewhere", email="e@example.com")
    campaign = Campaign(channel="email", name="Autumn", status="sent", created_by_id=manager.id)
    other = Campaign(channel="email", name="Spring", status="sent", created_by_id=manager.id)
    db.session.add_all([campaign, other])
    db.session.commit()
    (to_person,) = _emails(person, 1, days_ago=2, campaign_id=campaign.id)
    (to_scanned,) = _emails(scanned, 1, days_ago=2, campaign_id=campaign.id)
    (to_elsewhere,) = _emails(elsewhere, 1, days_ago=2, campaign_id=other.id)
    tracking.record_engagement(to_person, "click")
    tracking.record_engagement(to_scanned, "click", verdict=Verdict(False, "burst"))
    tracking.record_engagement(to_elsewhere, "click")
    rule = {"type": "clicked_campaign", "campaignId": campaign.public_id}
    assert _names(_preview(call, manager, rule)) == ["Person"]
    assert _names(_preview(call, manager, {"not": rule})) == ["Elsewhere", "Scanned"]
    r = _preview(call, manager, {"type": "clicked_campaign", "campaignId": "cmp_nope"})
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"criteria.campaignId": "unknown campaign"}


def test_opened_but_did_not_order(call, manager, make_customer):
    today = utcnow()

    def opened(name: str, days_ago: int, ordered_days_ago: int | None = None) -> Customer:
        customer = make_customer("North", name=name, email=f"{name.lower()}@example.com")
        (message,) = _emails(customer, 1, days_ago=days_ago + 1)
        tracking.record_engagement(message, "open", at=today - timedelta(days=days_ago))
        if ordered_days_ago is not None:
            db.session.add(
                Order(
                    customer_id=customer.id,
                    order_date=(today - timedelta(days=ordered_days_ago)).date(),
                    status="completed",
                    total=100,
                )
            )
            db.session.commit()
        return customer

    opened("Browser", 3)  # opened, no order: yes
    opened("Buyer", 3, ordered_days_ago=1)  # ordered after opening: no
    opened("Earlier", 3, ordered_days_ago=5)  # ordered before the open, not since: yes
    opened("Old", 20)  # opened outside the window: no
    rule = {"type": "opened_not_ordered", "days": 7}
    assert _names(_preview(call, manager, rule)) == ["Browser", "Earlier"]
    assert _names(_preview(call, manager, {"not": rule})) == ["Buyer", "Old"]
    r = _preview(call, manager, {"type": "opened_not_ordered", "days": 0})
    assert r.status_code == 422 and "criteria.days" in r.get_json()["error"]["fields"]


def test_the_list_builder_offers_both_rules(client, login, manager):
    login(manager)
    page = client.get("/sales/marketing/lists/new").get_data(as_text=True)
    assert "clicked_campaign" in page and "opened_not_ordered" in page
    script = client.get("/static/lists/lists.js")
    assert script.status_code == 200
    body = script.get_data(as_text=True)
    assert "Clicked campaign" in body and "did not order" in body


def test_the_campaign_page_shows_how_many_sunset_customers_were_skipped(
    call, client, login, manager, audience
):
    list_id, *_ = audience
    sent = _send(call, manager, _campaign(call, manager, list_id))
    login(manager)
    page = client.get(f"/sales/marketing/campaigns/{sent['id']}").get_data(as_text=True)
    assert 'data-testid="sunset-skipped"' in page
    assert '<span data-count="sunsetSkipped">1</span>' in page


def test_a_campaign_to_sunset_customers_only_says_why_it_failed(
    call, manager, make_customer, make_list
):
    quiet = make_customer("North", name="Quiet", email="q@example.com")
    _emails(quiet, 10)
    rescore_everyone()
    sent = _send(call, manager, _campaign(call, manager, make_list(manager, [quiet])))
    assert sent["status"] == "failed" and "sunset" in sent["lastError"]
    assert dev_messages() == []


def test_the_re_permission_template_does_not_stop_the_stock_ones(call, manager, audience):
    from app.messaging.models import Template
    from app.messaging.templates import DEFAULT_TEMPLATES

    call(manager, "post", f"{API}/sunset/re-permission")
    names = set(db.session.scalars(select(Template.name).where(Template.is_default.is_(True))))
    assert {name for name, *_ in DEFAULT_TEMPLATES} < names
    assert "Do you still want to hear from us?" in names


def test_the_list_form_refuses_an_own_rule_without_thresholds(client, login, manager):
    from blueprints.lists.models import EmailList

    login(manager)
    page = client.get("/sales/marketing/lists/new").get_data(as_text=True)
    r = client.post(
        "/sales/marketing/lists/new",
        data={"csrf_token": csrf_from(page), "name": "Half a rule", "sunset_policy": "custom"},
    )
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "Sunset customers" in text and "needs minEmails and days" in text
    assert 'value="Half a rule"' in text
    assert db.session.scalar(select(EmailList)) is None
