"""/api/sales/marketing/recurring: managers and admins only, the envelope and camelCase,
a bad rule or zone is a 422 naming the field, occurrences skipped and edited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging.models import Campaign
from app.recurring import engine
from app.recurring.models import RecurringCampaign, RecurringOccurrence
from tests.app.recurring.conftest import soon

BASE = "/api/sales/marketing/recurring"


def _body(list_id: str, **extra):
    return {
        "name": "Weekly specials",
        "channel": "email",
        "listId": list_id,
        "subject": "Specials for {{ customer_name }}",
        "html": "<p>This week</p>",
        "rule": "FREQ=WEEKLY;BYDAY=TU",
        "startsAt": "2027-10-26T09:00",
        "timeZone": "America/New_York",
        **extra,
    }


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_read_and_list_show_the_next_occurrences_in_local_time(call, manager, audience):
    list_id, _ = audience
    r = call(manager, "post", BASE, json=_body(list_id))
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["status"] == "active" and created["timeZone"] == "America/New_York"
    assert created["startsAt"] == "2027-10-26T09:00"
    got = call(manager, "get", f"{BASE}/{created['id']}").get_json()
    times = [o["occursAt"] for o in got["occurrences"]]
    # 09:00 in New York: 13:00 UTC in daylight time, 14:00 UTC once it ends on 7 November
    assert times[:3] == ["2027-10-26T13:00:00Z", "2027-11-02T13:00:00Z", "2027-11-09T14:00:00Z"]
    assert all(o["localTime"].startswith(o["localTime"][:10]) for o in got["occurrences"])
    assert {o["localTime"][11:16] for o in got["occurrences"]} == {"09:00"}
    listed = call(manager, "get", BASE).get_json()
    assert listed["total"] == 1 and listed["items"][0]["nextAt"] == "2027-10-26T13:00:00Z"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"rule": "FREQ=SOMETIMES"}, "rule"),
        ({"rule": "FREQ=DAILY;COUNT=1", "startsAt": "2020-01-01T09:00"}, "rule"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"listId": "lst_nope"}, "listId"),
        ({"channel": "fax"}, "channel"),
        ({"templateId": "tpl_nope"}, "templateId"),
        ({"html": "<p>{{ nope }}</p>"}, "html"),
        ({"featured": {"rule": "cheapest"}}, "featured.rule"),
        ({"startsAt": "tuesday"}, "startsAt"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    call, manager, audience, extra, field
):
    list_id, _ = audience
    r = call(manager, "post", BASE, json=_body(list_id, **extra))
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"], r.get_json()
    assert _count(RecurringCampaign) == 0


def test_reps_are_refused_and_strangers_asked_to_log_in(call, client, rep, manager, audience):
    list_id, _ = audience
    assert call(rep, "get", BASE).status_code == 403
    r = call(rep, "post", BASE, json=_body(list_id))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert client.get(BASE, headers={"Accept": "application/json"}).status_code == 401
    assert _count(RecurringCampaign) == 0


def test_skip_edit_and_the_409_once_the_campaign_exists(call, manager, audience):
    list_id, _ = audience
    first = soon(30)
    body = _body(list_id, rule="FREQ=DAILY", startsAt=first.isoformat(), timeZone="UTC")
    rec = call(manager, "post", BASE, json=body).get_json()
    at = first.isoformat() + "Z"
    following = (first + timedelta(days=1)).isoformat() + "Z"

    r = call(
        manager, "patch", f"{BASE}/{rec['id']}/occurrences/{following}", json={"skipped": True}
    )
    assert r.status_code == 200 and r.get_json()["state"] == "skipped"
    r = call(
        manager, "patch", f"{BASE}/{rec['id']}/occurrences/{at}", json={"subject": "Just today"}
    )
    assert (
        r.status_code == 200 and r.get_json()["edited"] and r.get_json()["subject"] == "Just today"
    )
    shown = call(manager, "get", f"{BASE}/{rec['id']}").get_json()["occurrences"]
    assert [(o["state"], o["edited"]) for o in shown[:2]] == [("planned", True), ("skipped", False)]

    # not an occurrence of the rule, or with nothing to change: 422 naming the field
    wrong = (first + timedelta(minutes=7)).isoformat() + "Z"
    r = call(manager, "patch", f"{BASE}/{rec['id']}/occurrences/{wrong}", json={"skipped": True})
    assert r.status_code == 422 and "occursAt" in r.get_json()["error"]["fields"]
    r = call(manager, "patch", f"{BASE}/{rec['id']}/occurrences/{at}", json={})
    assert r.status_code == 422
    r = call(manager, "patch", f"{BASE}/{rec['id']}/occurrences/{at}", json={"html": "{{ x"})
    assert r.status_code == 422 and "html" in r.get_json()["error"]["fields"]

    engine.run_due()
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.subject == "Just today"
    shown = call(manager, "get", f"{BASE}/{rec['id']}").get_json()["occurrences"]
    assert shown[0]["campaignId"] == campaign.public_id
    assert shown[0]["campaignStatus"] == "scheduled"
    r = call(manager, "patch", f"{BASE}/{rec['id']}/occurrences/{at}", json={"skipped": True})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "conflict"
    row = db.session.scalar(
        select(RecurringOccurrence).where(
            RecurringOccurrence.occurs_at == first.replace(tzinfo=UTC)
        )
    )
    assert row.state == "created"


def test_update_pause_resume_and_delete(call, manager, audience):
    list_id, _ = audience
    rec = call(manager, "post", BASE, json=_body(list_id)).get_json()
    r = call(
        manager,
        "patch",
        f"{BASE}/{rec['id']}",
        json={"rule": "FREQ=MONTHLY;BYDAY=1MO", "timeZone": "Europe/Paris"},
    )
    assert r.status_code == 200, r.get_json()
    # first Monday of November 2027, 09:00 in Paris (CET, UTC+1)
    assert r.get_json()["occurrences"][0]["occursAt"] == "2027-11-01T08:00:00Z"
    r = call(manager, "patch", f"{BASE}/{rec['id']}", json={"rule": "FREQ=NEVER"})
    assert r.status_code == 422 and "rule" in r.get_json()["error"]["fields"]
    db.session.expire_all()
    assert db.session.scalars(select(RecurringCampaign)).one().rule == "FREQ=MONTHLY;BYDAY=1MO"

    paused = call(manager, "post", f"{BASE}/{rec['id']}/pause").get_json()
    assert paused["status"] == "paused" and paused["nextAt"] is None
    resumed = call(manager, "post", f"{BASE}/{rec['id']}/resume").get_json()
    assert resumed["status"] == "active" and resumed["nextAt"] == "2027-11-01T08:00:00Z"
    assert call(manager, "delete", f"{BASE}/{rec['id']}").status_code == 204
    assert call(manager, "get", f"{BASE}/{rec['id']}").status_code == 404


def test_sku_special_price_through_the_catalogue_api(call, admin):
    r = call(
        admin,
        "post",
        "/api/sales/skus",
        json={"code": "PN1", "name": "Volnay", "unitPrice": "50", "specialPrice": "42.5"},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["specialPrice"] == "42.50"
    sku_id = r.get_json()["id"]
    r = call(admin, "patch", f"/api/sales/skus/{sku_id}", json={"specialPrice": "60"})
    assert r.status_code == 422 and "specialPrice" in r.get_json()["error"]["fields"]
    r = call(admin, "patch", f"/api/sales/skus/{sku_id}", json={"specialPrice": None})
    assert r.status_code == 200 and r.get_json()["specialPrice"] is None


def test_the_api_answers_in_camel_case(call, manager, audience):
    list_id, _ = audience
    rec = call(manager, "post", BASE, json=_body(list_id, sendLocalTime=True)).get_json()
    assert {"listId", "startsAt", "timeZone", "sendLocalTime", "nextAt"} <= set(rec)
    assert rec["sendLocalTime"] is True
    assert datetime.fromisoformat(rec["nextAt"]).tzinfo is not None
