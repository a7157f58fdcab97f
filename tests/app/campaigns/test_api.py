"""The campaigns API: drafts, edits until the start, duplicates, schedules (in the
user's time zone, never in the past), sends, test sends, recipients and links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.campaigns import service
from app.extensions import db
from app.jobs import ScheduledJob
from app.messaging.models import Campaign
from blueprints.email.models import EmailEvent, EmailMessage
from tests.blueprints.email.conftest import dev_messages

LATER = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def audience(manager, make_customer, make_list):
    customers = [make_customer(email=f"cellar{i}@example.com") for i in range(3)]
    return make_list(manager, customers, name="Cellar club"), customers


def _draft(call, user, list_id, **extra):
    body = {
        "channel": "email",
        "listId": list_id,
        "subject": "Autumn, {{ customer_name }}",
        "html": '<p>New <a href="https://wine.example/barolo">Barolo</a></p>',
        **extra,
    }
    return call(user, "post", "/campaigns", json=body)


def test_a_draft_sends_nothing_until_sent(call, manager, audience):
    list_id, customers = audience
    r = _draft(call, manager, list_id, name="Autumn release")
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    assert draft["status"] == "draft" and draft["editable"] and draft["name"] == "Autumn release"
    assert dev_messages() == []

    r = call(manager, "post", f"/campaigns/{draft['id']}/send")
    assert r.status_code == 202, r.get_json()
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)
    sent = call(manager, "get", f"/campaigns/{draft['id']}").get_json()
    assert sent["status"] == "sent" and not sent["editable"]
    assert "pause" not in sent["actions"] and sent["progress"]["done"] == 3


def test_a_draft_is_edited_and_a_started_campaign_is_409(call, manager, audience):
    list_id, _ = audience
    draft = _draft(call, manager, list_id).get_json()
    r = call(manager, "patch", f"/campaigns/{draft['id']}", json={"subject": "Winter"})
    assert r.status_code == 200, r.get_json()
    assert db.session.get(Campaign, _pk(draft)).subject == "Winter"
    assert "Barolo" in db.session.get(Campaign, _pk(draft)).html  # the rest kept

    call(manager, "post", f"/campaigns/{draft['id']}/send")
    r = call(manager, "patch", f"/campaigns/{draft['id']}", json={"subject": "Too late"})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "conflict"
    db.session.expire_all()
    assert db.session.get(Campaign, _pk(draft)).subject == "Winter"


def _pk(data) -> int:
    return db.session.scalar(select(Campaign.id).where(Campaign.public_id == data["id"]))


@pytest.mark.parametrize("where", ["create", "patch", "schedule"])
def test_a_time_in_the_past_is_422_naming_scheduled_at(call, manager, audience, where):
    list_id, _ = audience
    past = _iso(datetime.now(UTC) - timedelta(minutes=5))
    if where == "create":
        r = _draft(call, manager, list_id, scheduledAt=past)
    else:
        draft = _draft(call, manager, list_id).get_json()
        path = f"/campaigns/{draft['id']}" + ("/schedule" if where == "schedule" else "")
        r = call(
            manager, "post" if where == "schedule" else "patch", path, json={"scheduledAt": past}
        )
    assert r.status_code == 422, r.get_json()
    assert "in the past" in r.get_json()["error"]["fields"]["scheduledAt"]
    assert db.session.scalar(select(Campaign).where(Campaign.status == "scheduled")) is None


def test_the_old_one_call_send_refuses_a_past_time_too(call, manager, audience):
    list_id, _ = audience
    past = _iso(datetime.now(UTC) - timedelta(hours=1))
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": list_id, "subject": "s", "html": "<p>x</p>", "scheduledAt": past},
    )
    assert r.status_code == 422 and "scheduledAt" in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(Campaign)) is None and dev_messages() == []


def test_a_time_without_offset_is_read_in_the_users_zone(call, manager, audience):
    manager.time_zone = "America/New_York"
    db.session.commit()
    list_id, _ = audience
    wall = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None
    )
    r = _draft(call, manager, list_id, scheduledAt=wall.isoformat())
    assert r.status_code == 201, r.get_json()
    stored = db.session.get(Campaign, _pk(r.get_json())).scheduled_at
    assert stored.astimezone(UTC).hour in (13, 14)  # 09:00 in New York (EDT or EST)
    assert r.get_json()["scheduleZone"] == "America/New_York"


def test_schedule_unschedule_and_a_stale_start_does_nothing(call, manager, audience):
    list_id, customers = audience
    draft = _draft(call, manager, list_id).get_json()
    r = call(
        manager, "post", f"/campaigns/{draft['id']}/schedule", json={"scheduledAt": _iso(LATER)}
    )
    assert r.status_code == 200 and r.get_json()["status"] == "scheduled"
    first_job = db.session.scalars(select(ScheduledJob)).one()

    # moved to another time while scheduled: the first start job stands down
    moved = LATER + timedelta(hours=1)
    r = call(manager, "patch", f"/campaigns/{draft['id']}", json={"scheduledAt": _iso(moved)})
    assert r.status_code == 200 and r.get_json()["status"] == "scheduled"
    service.start_scheduled(*first_job.args)
    db.session.expire_all()
    assert db.session.get(Campaign, _pk(draft)).status == "scheduled" and dev_messages() == []

    r = call(manager, "post", f"/campaigns/{draft['id']}/unschedule")
    assert r.status_code == 200 and r.get_json()["status"] == "draft"
    for job in db.session.scalars(select(ScheduledJob)).all():
        service.start_scheduled(*job.args)  # both jobs fire: nothing goes out
    assert dev_messages() == []
    assert call(manager, "post", f"/campaigns/{draft['id']}/unschedule").status_code == 409

    # scheduled again and its time comes: it goes out
    call(manager, "post", f"/campaigns/{draft['id']}/schedule", json={})  # the stored time
    job = db.session.scalars(
        select(ScheduledJob).order_by(ScheduledJob.run_at.desc(), ScheduledJob.id)
    ).first()
    service.start_scheduled(*job.args)
    assert sorted(m.to for m in dev_messages()) == sorted(c.email for c in customers)


def test_duplicate_makes_a_new_draft_of_any_campaign(call, manager, audience):
    list_id, _ = audience
    original = _draft(call, manager, list_id, name="Spring").get_json()
    call(manager, "post", f"/campaigns/{original['id']}/send")
    r = call(manager, "post", f"/campaigns/{original['id']}/duplicate")
    assert r.status_code == 201
    copy = r.get_json()
    assert copy["id"] != original["id"] and copy["status"] == "draft"
    assert copy["name"] == "Copy of Spring" and copy["listId"] == list_id


def test_send_a_test_goes_to_the_caller_only(call, manager, audience):
    list_id, customers = audience
    draft = _draft(call, manager, list_id).get_json()
    r = call(manager, "post", f"/campaigns/{draft['id']}/test")
    assert r.status_code == 200 and r.get_json() == {"to": manager.email}
    (test,) = dev_messages()
    assert test.to == manager.email
    assert test.subject.startswith("[Test] Autumn, ")  # rendered for a real recipient
    assert db.session.get(Campaign, _pk(draft)).status == "draft"


def test_review_counts_who_is_left_out_and_why(call, manager, make_customer, make_list):
    from app.messaging import consent

    ok = make_customer(email="ok@example.com")
    gone = make_customer(email="gone@example.com")
    none = make_customer(email=None)
    consent.opt_out("email", "gone@example.com", reason="unsubscribe", source="test")
    db.session.commit()
    list_id = make_list(manager, [ok, gone, none], name="Mixed")
    draft = _draft(call, manager, list_id).get_json()
    r = call(manager, "get", f"/campaigns/{draft['id']}/review")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert data["audience"]["total"] == 3 and data["audience"]["recipients"] == 1
    assert data["audience"]["noAddress"] == 1 and data["audience"]["suppressed"] == 1
    assert data["provider"] == "console" and data["rate"] == "600 per 60 s"
    assert data["preview"]["subject"] == f"Autumn, {ok.name}"


def test_recipients_filter_and_links_group_clicks_by_url(call, manager, audience):
    list_id, customers = audience
    draft = _draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/send")
    rows = db.session.scalars(select(EmailMessage).order_by(EmailMessage.id)).all()
    now = datetime.now(UTC)
    rows[0].first_opened_at = rows[0].first_clicked_at = now
    rows[0].open_count = rows[0].click_count = 2
    rows[1].first_opened_at = now
    rows[2].status, rows[2].error_code, rows[2].error_message = "failed", "550", "mailbox full"
    for row, url in (
        (rows[0], "https://wine.example/barolo"),
        (rows[0], "https://wine.example/barolo"),
        (rows[0], "https://wine.example/x"),
    ):
        db.session.add(
            EmailEvent(message_id=row.id, campaign_id=row.campaign_id, type="click", url=url)
        )
    db.session.commit()

    def recipients(**query):
        r = call(manager, "get", f"/campaigns/{draft['id']}/recipients", query_string=query)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    assert recipients()["total"] == 3
    assert [i["to"] for i in recipients(engagement="opened")["items"]] == [
        rows[0].to_address,
        rows[1].to_address,
    ]
    assert [i["to"] for i in recipients(engagement="clicked")["items"]] == [rows[0].to_address]
    (failed,) = recipients(status="failed")["items"]
    assert failed["error"] == {"code": "550", "message": "mailbox full"}
    assert recipients(perPage=1, page=2)["items"][0]["to"] == rows[1].to_address
    assert (
        call(manager, "get", f"/campaigns/{draft['id']}/recipients?engagement=x").status_code == 422
    )

    links = call(manager, "get", f"/campaigns/{draft['id']}/links").get_json()["items"]
    assert links == [
        {"url": "https://wine.example/barolo", "clicks": 2, "uniqueClickers": 1},
        {"url": "https://wine.example/x", "clicks": 1, "uniqueClickers": 1},
    ]
    detail = call(manager, "get", f"/campaigns/{draft['id']}").get_json()
    assert detail["stats"]["uniqueOpens"] == 2 and detail["stats"]["uniqueClicks"] == 1
    # the chart's series end at the counters
    assert detail["timeline"]["opens"][-1] == 2 and detail["timeline"]["clicks"][-1] == 1


def test_list_filters_by_channel_and_status_and_shows_rates(call, manager, audience):
    list_id, _ = audience
    first = _draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{first['id']}/send")
    _draft(call, manager, list_id)
    drafts = call(manager, "get", "/campaigns?status=draft").get_json()
    assert drafts["total"] == 1
    assert call(manager, "get", "/campaigns?channel=sms").get_json()["total"] == 0
    everything = call(manager, "get", "/campaigns?channel=email").get_json()["items"]
    assert {"openRate", "clickRate"} <= set(everything[0]["stats"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert call(manager, "get", f"/campaigns?since={tomorrow}").get_json()["total"] == 0


def test_a_rep_sees_and_changes_only_their_own(call, manager, rep, audience):
    list_id, _ = audience
    draft = _draft(call, manager, list_id).get_json()
    assert call(rep, "get", f"/campaigns/{draft['id']}").status_code == 404
    assert call(rep, "patch", f"/campaigns/{draft['id']}", json={"name": "x"}).status_code == 404
    assert call(rep, "post", f"/campaigns/{draft['id']}/send").status_code == 404


def test_bad_input_names_the_field(call, manager, audience):
    list_id, _ = audience
    cases = [
        ({"channel": "fax", "listId": list_id}, "channel"),
        ({"channel": "email", "listId": "lst_nope", "subject": "s", "html": "<p>x</p>"}, "listId"),
        ({"channel": "email", "listId": list_id, "templateId": "tpl_nope"}, "templateId"),
        ({"channel": "sms", "listId": list_id}, "body"),
    ]
    for body, field in cases:
        r = call(manager, "post", "/campaigns", json=body)
        assert r.status_code == 422, (body, r.get_json())
        assert field in r.get_json()["error"]["fields"], (field, r.get_json())
    assert db.session.scalar(select(Campaign)) is None


def test_an_sms_draft_is_sent_to_those_opted_in(call, manager, make_customer, make_list):
    from app.messaging import consent

    yes = make_customer(phone="+12125550101")
    no = make_customer(phone="+12125550102")
    consent.opt_in("sms", "+12125550101", source="test", method="written")
    db.session.commit()
    list_id = make_list(manager, [yes, no], name="Texters")
    r = call(
        manager,
        "post",
        "/campaigns",
        json={"channel": "sms", "listId": list_id, "body": "Hi {{ customer_name }}"},
    )
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    review = call(manager, "get", f"/campaigns/{draft['id']}/review").get_json()
    assert review["audience"]["recipients"] == 1 and review["audience"]["noOptIn"] == 1
    assert review["preview"]["body"] == f"Hi {yes.name}"
    assert review["preview"]["segments"] == 1 and review["preview"]["encoding"] == "GSM-7"
    assert call(manager, "post", f"/campaigns/{draft['id']}/send").status_code == 202
    assert [m.to for m in dev_messages("sms")] == ["+12125550101"]
    # the old address of an SMS campaign keeps answering
    assert call(manager, "get", f"/sms/campaigns/{draft['id']}").get_json()["status"] == "sent"


def test_send_in_each_recipients_time_zone(call, manager, make_customer, make_list):
    """09:00 in the manager's zone (Paris) goes out at 09:00 in Tokyo for a Tokyo
    customer and at 09:00 Paris time for one whose zone is unknown."""
    from app.crm.models import CommunicationPreference

    manager.time_zone = "Europe/Paris"
    tokyo = make_customer(email="tokyo@example.com")
    unknown = make_customer(email="unknown@example.com")
    db.session.add(CommunicationPreference(customer_id=tokyo.id, timezone="Asia/Tokyo"))
    db.session.commit()
    list_id = make_list(manager, [tokyo, unknown], name="World")
    wall = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None
    )
    draft = _draft(call, manager, list_id).get_json()
    r = call(
        manager,
        "post",
        f"/campaigns/{draft['id']}/schedule",
        json={"scheduledAt": wall.isoformat(), "sendLocalTime": True},
    )
    assert r.status_code == 200, r.get_json()
    job = db.session.scalars(select(ScheduledJob)).one()
    campaign = db.session.get(Campaign, _pk(draft))
    from zoneinfo import ZoneInfo

    tokyo_due = wall.replace(tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)
    paris_due = wall.replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    assert job.run_at.astimezone(UTC) == tokyo_due  # the first recipient's time
    assert campaign.scheduled_at.astimezone(UTC) == paris_due
    service.start_scheduled(*job.args)
    due = dict(
        db.session.execute(select(EmailMessage.to_address, EmailMessage.next_attempt_at)).all()
    )
    assert due["tokyo@example.com"].astimezone(UTC) == tokyo_due
    assert due["unknown@example.com"].astimezone(UTC) == paris_due
    assert dev_messages() == []  # nobody's time has come yet


def test_the_campaign_json_keeps_the_old_send_answer(call, manager, audience):
    """``POST /email/send`` with a list: a draft sent at once, 202 with the campaign."""
    list_id, customers = audience
    r = call(
        manager, "post", "/email/send", json={"listId": list_id, "subject": "s", "html": "<p>x</p>"}
    )
    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] in ("sending", "sent") and "counts" in r.get_json()
    assert len(dev_messages()) == len(customers)


def test_the_campaign_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in (
        "/api/sales/marketing/campaigns",
        "/api/sales/marketing/campaigns/{campaign_id}",
        "/api/sales/marketing/campaigns/{campaign_id}/duplicate",
        "/api/sales/marketing/campaigns/{campaign_id}/schedule",
        "/api/sales/marketing/campaigns/{campaign_id}/send",
        "/api/sales/marketing/campaigns/{campaign_id}/test",
        "/api/sales/marketing/campaigns/{campaign_id}/recipients",
        "/api/sales/marketing/campaigns/{campaign_id}/links",
    ):
        assert path in paths, sorted(p for p in paths if "campaign" in p)
    assert "post" in paths["/api/sales/marketing/campaigns"]
    assert "patch" in paths["/api/sales/marketing/campaigns/{campaign_id}"]


def test_paused_before_its_time_resumed_then_unscheduled_sends_nothing(call, manager, audience):
    """Resumed while its time is still to come, a campaign is scheduled again the core's
    way: unscheduling it afterwards still stops it (the engine's own start job would
    have prepared a draft)."""
    list_id, _ = audience
    draft = _draft(call, manager, list_id).get_json()
    call(manager, "post", f"/campaigns/{draft['id']}/schedule", json={"scheduledAt": _iso(LATER)})
    assert call(manager, "post", f"/campaigns/{draft['id']}/pause").get_json()["status"] == "paused"
    resumed = call(manager, "post", f"/campaigns/{draft['id']}/resume").get_json()
    assert resumed["status"] == "scheduled", resumed
    assert call(manager, "post", f"/campaigns/{draft['id']}/unschedule").status_code == 200
    for job in db.session.scalars(select(ScheduledJob)).all():  # every queued start fires
        from app.jobs import resolve

        resolve(job.func)(*job.args, **job.kwargs)
    db.session.expire_all()
    assert db.session.get(Campaign, _pk(draft)).status == "draft"
    assert dev_messages() == []
