"""A manager composes a campaign on the page, reviews it and confirms the count; the
report, its live part, its CSV and the index with its filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging.models import Campaign
from tests.blueprints.email.conftest import dev_messages
from tests.conftest import csrf_from

NEW = "/sales/marketing/campaigns/new"


def _compose(client, list_id, next_step="review", **fields):
    page = client.get(f"{NEW}?channel=email").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "channel": "email",
        "name": "Autumn release",
        "list_id": list_id,
        "template_id": "",
        "subject": "The autumn release, {{ customer_name }}",
        "html": "<p>New Barolo is in.</p>",
        "next": next_step,
        **fields,
    }
    return page, client.post(NEW, data=data)


def test_compose_review_and_confirm_sends_to_the_chosen_list(
    client, login, manager, make_customer, make_list
):
    customers = [make_customer(email=f"cellar{i}@example.com") for i in range(3)]
    list_id = make_list(manager, customers, name="Cellar club")
    login(manager)
    assert 'data-channel="sms"' in client.get(NEW).get_data(as_text=True)  # channel first
    page, response = _compose(client, list_id)
    assert "Cellar club (3)" in page
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert dev_messages() == []  # saved as a draft and reviewed first: nothing sent yet
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Send to 3 people" in review
    count = re.search(r'name="count"[^>]*value="(\d+)"', review) or re.search(
        r'value="(\d+)"[^>]*name="count"', review
    )
    assert count and count.group(1) == "3"

    # without the tick: refused, nothing sent
    refused = client.post(
        response.headers["Location"], data={"csrf_token": csrf_from(review), "count": "3"}
    )
    assert refused.status_code == 422 and 'data-testid="error-confirm"' in refused.get_data(
        as_text=True
    )
    assert dev_messages() == []
    # a count that is not the audience's any more (the list changed): reviewed again
    stale = client.post(
        response.headers["Location"],
        data={"csrf_token": csrf_from(review), "count": "2", "confirm": "y"},
    )
    assert stale.status_code == 422 and "now 3 people" in stale.get_data(as_text=True)
    assert dev_messages() == []

    sent = client.post(
        response.headers["Location"],
        data={"csrf_token": csrf_from(review), "count": "3", "confirm": "y"},
    )
    assert sent.status_code == 302
    detail = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Autumn release" in detail
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)
    assert 'data-action="pause"' not in detail  # no Pause on a sent campaign
    assert 'data-action="duplicate"' in detail


def test_compose_refuses_a_list_it_does_not_offer(
    client, login, rep, manager, make_customer, make_list
):
    other = make_list(manager, [make_customer("South")], name="Managers only")
    login(rep)
    page, response = _compose(client, other)
    assert "Managers only" not in page
    assert response.status_code == 422  # the form shows the choice error; nothing saved
    assert 'data-testid="error-list_id"' in response.get_data(as_text=True)
    assert db.session.scalar(select(Campaign)) is None


def test_a_past_time_is_refused_beside_the_field_keeping_what_was_typed(
    client, login, manager, make_customer, make_list
):
    list_id = make_list(manager, [make_customer()], name="Club")
    login(manager)
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    _page, response = _compose(client, list_id, scheduled_at=past)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-scheduled_at"' in body and "in the past" in body
    assert 'value="Autumn release"' in body
    assert db.session.scalar(select(Campaign)) is None


def test_schedule_in_my_zone_then_edit_and_unschedule(
    client, login, manager, make_customer, make_list
):
    manager.time_zone = "America/Los_Angeles"
    db.session.commit()
    list_id = make_list(manager, [make_customer()], name="Club")
    login(manager)
    when = (datetime.now(UTC) + timedelta(days=5)).replace(hour=0)
    typed = when.strftime("%Y-%m-%dT09:30")
    _page, response = _compose(client, list_id, scheduled_at=typed)
    assert response.status_code == 302
    review_url = response.headers["Location"]
    review = client.get(review_url).get_data(as_text=True)
    assert "09:30 P" in review  # shown in Los Angeles time (PST or PDT)
    client.post(review_url, data={"csrf_token": csrf_from(review), "count": "1", "confirm": "y"})
    campaign = db.session.scalar(select(Campaign))
    assert campaign.status == "scheduled"
    assert campaign.scheduled_at.astimezone(UTC).hour in (16, 17)  # 09:30 PDT/PST in UTC

    edit_url = f"/sales/marketing/campaigns/{campaign.public_id}/edit"
    edit = client.get(edit_url).get_data(as_text=True)
    assert typed in edit  # the form shows the time in the manager's zone
    saved = client.post(
        edit_url,
        data={
            "csrf_token": csrf_from(edit),
            "channel": "email",
            "name": "Renamed",
            "list_id": list_id,
            "subject": "New subject",
            "html": "<p>x</p>",
            "scheduled_at": typed,
            "next": "draft",
        },
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert campaign.name == "Renamed" and campaign.status == "scheduled"
    detail = client.get(f"/sales/marketing/campaigns/{campaign.public_id}").get_data(as_text=True)
    unschedule = client.post(
        f"/sales/marketing/campaigns/{campaign.public_id}/unschedule",
        data={"csrf_token": csrf_from(detail)},
    )
    assert unschedule.status_code == 302
    db.session.expire_all()
    assert campaign.status == "draft" and dev_messages() == []


def test_report_progress_csv_and_index(client, login, manager, make_customer, make_list):
    customers = [make_customer(email=f"r{i}@example.com", name=f"R {i}") for i in range(2)]
    list_id = make_list(manager, customers, name="Club")
    login(manager)
    _page, response = _compose(client, list_id)
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    client.post(
        response.headers["Location"],
        data={"csrf_token": csrf_from(review), "count": "2", "confirm": "y"},
    )
    campaign = db.session.scalar(select(Campaign))
    base = f"/sales/marketing/campaigns/{campaign.public_id}"
    live = client.get(f"{base}/progress").get_data(as_text=True)
    assert 'data-status="sent"' in live and "hx-get" not in live  # finished: no more polling
    csv_text = client.get(f"{base}/recipients.csv").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("to,customer,status")
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["r0@example.com", "r1@example.com"]
    assert (
        client.get(f"{base}/recipients.csv?status=failed").get_data(as_text=True).count("\n") == 1
    )

    index = client.get("/sales/marketing/campaigns").get_data(as_text=True)
    assert "Autumn release" in index and 'data-rate="open"' in index
    assert "Autumn release" not in client.get("/sales/marketing/campaigns?status=draft").get_data(
        as_text=True
    )
    assert "Autumn release" not in client.get("/sales/marketing/campaigns?channel=sms").get_data(
        as_text=True
    )


def test_cancel_asks_first(client, login, manager, make_customer, make_list):
    list_id = make_list(manager, [make_customer()], name="Club")
    login(manager)
    _compose(client, list_id, next_step="draft")
    campaign = db.session.scalar(select(Campaign))
    url = f"/sales/marketing/campaigns/{campaign.public_id}/cancel"
    confirm = client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    db.session.expire_all()
    assert campaign.status == "draft"
    client.post(url, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    db.session.expire_all()
    assert campaign.status == "cancelled"


def test_my_time_zone_is_a_setting(client, login, manager):
    login(manager)
    page = client.get("/account").get_data(as_text=True)
    saved = client.post(
        "/account",
        data={"csrf_token": csrf_from(page), "time_zone": "Europe/Paris", "phone": "+33612345678"},
    )
    assert saved.status_code == 303
    db.session.expire_all()
    assert manager.time_zone == "Europe/Paris" and manager.phone == "+33612345678"
    bad = client.post(
        "/account", data={"csrf_token": csrf_from(page), "time_zone": "Mars/Base", "phone": ""}
    )
    assert bad.status_code == 422


def test_an_sms_campaign_on_the_same_pages(client, login, manager, make_customer, make_list):
    from app.messaging import consent

    texter = make_customer(name="Bodega Sur", phone="+12125550111")
    consent.opt_in("sms", "+12125550111", source="test", method="written")
    db.session.commit()
    list_id = make_list(manager, [texter, make_customer(phone="+12125550112")], name="Texters")
    login(manager)
    page = client.get(f"{NEW}?channel=sms").get_data(as_text=True)
    assert 'name="subject"' not in page and 'name="body"' in page
    response = client.post(
        NEW,
        data={
            "csrf_token": csrf_from(page),
            "channel": "sms",
            "list_id": list_id,
            "body": "Salud, {{ customer_name }}: new Rioja in",
            "next": "review",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Salud, Bodega Sur: new Rioja in" in review
    assert "1 segment · GSM-7" in review
    assert 'data-excluded="noOptIn">1<' in review and "Send to 1 person" in review
    # no mobile number in the settings: the test text is refused, saying why
    test = client.post(
        response.headers["Location"].replace("/review", "/test"),
        data={"csrf_token": csrf_from(review)},
        follow_redirects=True,
    )
    assert "add your mobile number" in test.get_data(as_text=True)
    client.post(
        response.headers["Location"],
        data={"csrf_token": csrf_from(review), "count": "1", "confirm": "y"},
    )
    assert [m.to for m in dev_messages("sms")] == ["+12125550111"]


def test_the_review_runs_the_pre_flight_on_the_campaign(
    client, login, manager, make_customer, make_list
):
    customers = [
        make_customer(email="gold@example.com", custom_fields={"wine_club": "gold"}),
        make_customer(email="none@example.com"),
    ]
    list_id = make_list(manager, customers, name="Cellar club")
    login(manager)
    _page, response = _compose(client, list_id, html='<p>{{ wine_club }}</p><img src="cid:logo">')
    review = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="run-campaign-preflight"' in review
    campaign = db.session.scalar(select(Campaign))
    report = client.post(
        f"/sales/marketing/campaigns/{campaign.public_id}/preflight",
        data={"csrf_token": csrf_from(review)},
    )
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and 'data-testid="preflight-report"' in html
    assert 'data-check="alt"' in html and 'data-check="unsubscribe"' in html
    assert "wine_club }}: no value for 1 of 2" in html  # checked against its own list
    assert dev_messages() == []  # a pre-flight sends nothing
    unknown = client.post(
        "/sales/marketing/campaigns/cmp_nope/preflight", data={"csrf_token": csrf_from(review)}
    )
    assert unknown.status_code == 404
