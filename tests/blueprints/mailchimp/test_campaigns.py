"""Campaigns from templates: create, send, schedule, analytics into activities and tags."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.crm.models import Activity
from app.extensions import db
from app.messaging.models import Template
from app.models_base import utcnow
from blueprints.mailchimp import jobs as mc_jobs


def _template() -> Template:
    template = Template(
        type="email",
        name="Spring tasting",
        subject="Hello {{customer_name}}",
        html="<p>Dear {{customer_name}}, your rep {{rep_name}} in {{territory}}.</p>",
    )
    db.session.add(template)
    db.session.commit()
    return template


def _synced(call, manager, fake, make_customer, crm_list):
    fake.add_audience("Trade", "aud1")
    ann = make_customer(email="ann@example.com", name="Ann")
    ben = make_customer(email="ben@example.com", name="Ben")
    cat = make_customer(email="cat@example.com", name="Cat")
    list_id = crm_list([ann, ben, cat])
    body = call(manager, "post", "/sync", json={"listId": list_id, "audienceId": "aud1"})
    return body.get_json()["id"], (ann, ben, cat)


def test_create_send_and_pull_report(call, manager, connected, fake, make_customer, crm_list):
    sync_id, (ann, ben, cat) = _synced(call, manager, fake, make_customer, crm_list)
    template = _template()
    response = call(
        manager,
        "post",
        "/campaigns",
        json={"syncId": sync_id, "templateId": template.public_id, "send": True},
    )
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["status"] == "sent"
    remote = fake.campaigns[body["remoteId"]]
    # Decant's fallbacks travel as Mailchimp conditionals
    assert (
        remote["settings"]["subject_line"] == "Hello *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*"
    )
    assert (
        "Dear *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|*, your rep " in remote["content"]["html"]
    )
    assert "*|IF:REP|**|REP|**|ELSE:|*your rep*|END:IF|*" in remote["content"]["html"]
    assert "*|UNSUB|*" in remote["content"]["html"]
    assert remote["emails_sent"] == 3
    assert remote["deliveries"]["ann@example.com"]["subject"] == "Hello Ann"

    fake.add_activity(body["remoteId"], "ann@example.com", "open")
    fake.add_activity(body["remoteId"], "ann@example.com", "click", url="https://x.test")
    fake.add_activity(body["remoteId"], "ben@example.com", "bounce", type="hard")
    fake.set_report(body["remoteId"], unsubscribed=1)
    report = call(manager, "post", f"/campaigns/{body['id']}/report").get_json()["report"]
    assert report["sends"] == 3 and report["unique_opens"] == 1 and report["clicks"] == 1
    assert report["hard_bounces"] == 1 and report["unsubscribes"] == 1
    assert report["activitiesLogged"] == 3 and report["engagedTagged"] == 1

    activity = db.session.scalar(select(Activity).where(Activity.customer_id == ann.id))
    assert activity.type == "Email Campaign"
    assert "opens=1 clicks=1" in activity.notes
    db.session.refresh(ann)
    assert ann.custom_fields["engaged"] is True
    assert [t["name"] for t in fake.member("aud1", "ann@example.com")["tags"]] == ["engaged"]
    assert not fake.member("aud1", "ben@example.com")["tags"]

    # pulling again updates, never duplicates
    fake.add_activity(body["remoteId"], "ann@example.com", "open")
    call(manager, "post", f"/campaigns/{body['id']}/report")
    rows = db.session.scalars(select(Activity).where(Activity.customer_id == ann.id)).all()
    assert len(rows) == 1 and "opens=2" in rows[0].notes


def test_schedule_and_periodic_report_refresh(
    call, manager, connected, fake, make_customer, crm_list
):
    sync_id, _ = _synced(call, manager, fake, make_customer, crm_list)
    template = _template()
    created = call(
        manager, "post", "/campaigns", json={"syncId": sync_id, "templateId": template.public_id}
    ).get_json()
    assert created["status"] == "draft"
    when = (utcnow() + timedelta(days=1)).replace(minute=15, second=0, microsecond=0)
    bad = call(
        manager,
        "post",
        f"/campaigns/{created['id']}/schedule",
        json={"sendAt": (when + timedelta(minutes=7)).isoformat()},
    )
    assert bad.status_code == 422 and "sendAt" in bad.get_json()["error"]["fields"]
    ok = call(
        manager, "post", f"/campaigns/{created['id']}/schedule", json={"sendAt": when.isoformat()}
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "scheduled"
    assert fake.campaigns[created["remoteId"]]["status"] == "schedule"
    assert mc_jobs.refresh_reports() == 1


def test_unknown_template_is_422(call, manager, connected, fake, make_customer, crm_list):
    sync_id, _ = _synced(call, manager, fake, make_customer, crm_list)
    response = call(manager, "post", "/campaigns", json={"syncId": sync_id, "templateId": "tpl_x"})
    assert response.status_code == 422
    assert "templateId" in response.get_json()["error"]["fields"]


def test_campaign_page_shows_report(
    client, login, call, manager, connected, fake, make_customer, crm_list
):
    sync_id, _ = _synced(call, manager, fake, make_customer, crm_list)
    template = _template()
    body = call(
        manager,
        "post",
        "/campaigns",
        json={"syncId": sync_id, "templateId": template.public_id, "send": True},
    ).get_json()
    fake.add_activity(body["remoteId"], "cat@example.com", "open")
    call(manager, "post", f"/campaigns/{body['id']}/report")
    login(manager)
    html = client.get(f"/sales/marketing/mailchimp/campaigns/{body['id']}").get_data(as_text=True)
    assert 'data-testid="report-sends">3' in html
    assert "opens=1 clicks=0" in html
