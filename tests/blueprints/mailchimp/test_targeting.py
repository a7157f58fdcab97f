"""A Mailchimp campaign reaches the synced list only, with the merge fields it needs.

The fake Mailchimp sends only to a campaign's ``recipients.segment_opts``, refuses members
carrying merge fields the audience lacks, and renders each recipient's subject and HTML
from their merge fields, so these tests see what each person would have received.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Template
from app.models_base import utcnow
from tests.blueprints.mailchimp.conftest import LISTS


def _template(subject: str = "Hello {{customer_name}}", html: str | None = None) -> Template:
    template = Template(
        type="email",
        name="Spring tasting",
        subject=subject,
        html=html or "<p>Dear {{customer_name}}, your rep {{rep_name}} in {{territory}}.</p>",
    )
    db.session.add(template)
    db.session.commit()
    return template


def _sync(call, manager, list_id: str, audience_id: str = "aud1") -> str:
    response = call(manager, "post", "/sync", json={"listId": list_id, "audienceId": audience_id})
    assert response.status_code == 202, response.get_json()
    body = call(manager, "get", f"/sync/{response.get_json()['id']}").get_json()
    assert body["status"] == "done", body
    assert body["stats"].get("errors", 0) == 0, body["stats"]
    return body["id"]


def _campaign(call, manager, sync_id: str, template: Template, **extra):
    return call(
        manager,
        "post",
        "/campaigns",
        json={"syncId": sync_id, "templateId": template.public_id, **extra},
    )


def test_campaign_goes_to_the_list_members_only(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    fake.add_member("aud1", "stranger@example.com", merge_fields={"FNAME": "Stranger"})
    outsider = make_customer(email="outsider@example.com", name="Outsider")
    _sync(call, manager, crm_list([outsider], name="Other list"))
    ann = make_customer(email="ann@example.com", name="Ann")
    ben = make_customer(email="Ben@Example.com", name="Ben")
    cat = make_customer(email="cat@example.com", name="Cat")
    sync_id = _sync(call, manager, crm_list([ann, ben, cat]))

    response = _campaign(call, manager, sync_id, _template(), send=True)
    body = response.get_json()
    assert response.status_code == 201, body
    remote = fake.campaigns[body["remoteId"]]
    assert sorted(remote["deliveries"]) == ["Ben@Example.com", "ann@example.com", "cat@example.com"]
    assert remote["emails_sent"] == 3
    assert remote["recipients"]["segment_opts"]["saved_segment_id"]
    assert body["report"]["recipients"]["inSegment"] == 3
    assert remote["deliveries"]["ann@example.com"]["subject"] == "Hello Ann"


def test_send_time_membership_is_used(call, manager, connected, fake, make_customer, crm_list):
    """The segment follows the list at send time: a member removed after the draft was
    made is not sent to, and one opted out meanwhile neither."""
    fake.add_audience("Trade", "aud1")
    ann = make_customer(email="ann@example.com", name="Ann")
    ben = make_customer(email="ben@example.com", name="Ben")
    cat = make_customer(email="cat@example.com", name="Cat")
    list_id = crm_list([ann, ben, cat])
    sync_id = _sync(call, manager, list_id)
    draft = _campaign(call, manager, sync_id, _template()).get_json()
    assert draft["status"] == "draft"

    removed = call(
        manager, "delete", f"{LISTS}/{list_id}/members", json={"customerIds": [ben.public_id]}
    )
    assert removed.status_code in (200, 204), removed.get_data(as_text=True)
    consent.opt_out("email", "cat@example.com", reason="unsubscribe", source="test")
    db.session.commit()
    sent = call(manager, "post", f"/campaigns/{draft['id']}/send")
    assert sent.status_code == 200, sent.get_json()
    assert list(fake.campaigns[draft["remoteId"]]["deliveries"]) == ["ann@example.com"]


def test_no_reachable_member_is_a_422_and_creates_nothing(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    fake.add_member("aud1", "stranger@example.com")
    ann = make_customer(email="ann@example.com", name="Ann")
    sync_id = _sync(call, manager, crm_list([ann]))
    consent.opt_out("email", "ann@example.com", reason="unsubscribe", source="test")
    db.session.commit()

    response = _campaign(call, manager, sync_id, _template(), send=True)
    assert response.status_code == 422, response.get_json()
    assert "syncId" in response.get_json()["error"]["fields"]
    assert fake.campaigns == {}


def test_draft_for_the_whole_audience_is_not_sent(
    call, manager, connected, fake, make_customer, crm_list
):
    """A draft whose Mailchimp campaign has no segment (made before segments) is refused."""
    fake.add_audience("Trade", "aud1")
    fake.add_member("aud1", "stranger@example.com")
    ann = make_customer(email="ann@example.com", name="Ann")
    sync_id = _sync(call, manager, crm_list([ann]))
    draft = _campaign(call, manager, sync_id, _template()).get_json()
    fake.campaigns[draft["remoteId"]]["recipients"].pop("segment_opts")

    response = call(manager, "post", f"/campaigns/{draft['id']}/send")
    assert response.status_code == 409, response.get_json()
    assert fake.campaigns[draft["remoteId"]]["status"] == "save"


def test_sync_creates_the_merge_fields_it_pushes(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    assert "TERRITORY" not in fake.audiences["aud1"].merge_tags()
    _template(
        subject="{{customer_name}}, {{wine_club|default('our')}} club news",
        html="<p>Your tier: {{wine_club}}</p>",
    )
    ann = make_customer(email="ann@example.com", name="Ann", custom_fields={"wine_club": "Gold"})
    list_id = crm_list([ann])
    _sync(call, manager, list_id)
    _sync(call, manager, list_id)  # a second run finds the fields and adds none

    fields = fake.audiences["aud1"].merge_fields
    tags = [f["tag"] for f in fields]
    assert sorted(set(tags)) == sorted(tags)
    assert {"TERRITORY", "REP", "LASTORDER", "WINE_CLUB"} <= set(tags)
    assert next(f for f in fields if f["tag"] == "WINE_CLUB")["name"] == "wine_club"
    member = fake.member("aud1", "ann@example.com")
    assert member["merge_fields"]["TERRITORY"] == "North"
    assert member["merge_fields"]["WINE_CLUB"] == "Gold"


def test_campaign_creates_missing_fields_and_renders_fallbacks(
    call, manager, connected, fake, make_customer, crm_list
):
    """Fields created only by the campaign (the template came after the sync) exist before
    the campaign uses them; a member without a value gets Decant's fallback."""
    fake.add_audience("Trade", "aud1")
    ann = make_customer(email="ann@example.com", name="Ann")
    sync_id = _sync(call, manager, crm_list([ann]))
    template = _template(
        subject="{{customer_name}}: {{vintage|default('new')}} releases",
        html="<p>{{vintage|default('New')}} wines, {{customer_name}}</p>",
    )
    make_customer(email="x@example.com", custom_fields={"vintage": "2019"})  # the key exists

    body = _campaign(call, manager, sync_id, template, send=True).get_json()
    assert "VINTAGE" in fake.audiences["aud1"].merge_tags()
    delivery = fake.campaigns[body["remoteId"]]["deliveries"]["ann@example.com"]
    assert delivery["subject"] == "Ann: new releases"
    assert "New wines, Ann" in delivery["html"]


def test_activities_and_pages_show_the_subject_filled(
    client, login, call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    ann = make_customer(email="ann@example.com", name="Ann")
    ben = make_customer(email="ben@example.com", name="Ben")
    sync_id = _sync(call, manager, crm_list([ann, ben]))
    template = _template(subject="Hello {{customer_name}} in {{territory}}")
    body = _campaign(call, manager, sync_id, template, send=True).get_json()
    assert body["subjectPreview"] == "Hello [Customer name] in [Territory]"
    fake.add_activity(body["remoteId"], "ann@example.com", "open")
    call(manager, "post", f"/campaigns/{body['id']}/report")

    subjects = {
        a.customer_id: a.subject
        for a in db.session.scalars(select(Activity).where(Activity.type == "Email Campaign"))
    }
    assert subjects == {ann.id: "Hello Ann in North", ben.id: "Hello Ben in North"}
    assert (
        fake.campaigns[body["remoteId"]]["deliveries"]["ben@example.com"]["subject"]
        == (subjects[ben.id])
    )

    login(manager)
    page = client.get(f"/sales/marketing/mailchimp/campaigns/{body['id']}").get_data(as_text=True)
    assert "<title>Hello [Customer name] in [Territory]" in page
    assert "2 in the audience" in page
    assert "*|" not in page.split("<body")[0]
    settings = client.get("/settings/marketing").get_data(as_text=True)
    assert "Hello [Customer name] in [Territory]" in settings
    assert "*|" not in settings


def test_a_sync_keeps_a_scheduled_campaigns_segment_in_step(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    ann = make_customer(email="ann@example.com", name="Ann")
    ben = make_customer(email="ben@example.com", name="Ben")
    list_id = crm_list([ann, ben])
    sync_id = _sync(call, manager, list_id)
    when = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    body = _campaign(call, manager, sync_id, _template(), sendAt=when.isoformat()).get_json()
    assert body["status"] == "scheduled", body
    segment_id = body["report"]["recipients"]["segmentId"]

    dan = make_customer(email="dan@example.com", name="Dan")
    call(manager, "post", f"{LISTS}/{list_id}/members", json={"customerIds": [dan.public_id]})
    call(manager, "delete", f"{LISTS}/{list_id}/members", json={"customerIds": [ben.public_id]})
    _sync(call, manager, list_id)

    segment = fake.audiences["aud1"].segments[int(segment_id)]
    members = {fake.audiences["aud1"].members[h]["email_address"] for h in segment["members"]}
    assert members == {"ann@example.com", "dan@example.com"}
