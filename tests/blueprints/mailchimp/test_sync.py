"""Audience sync: batches, merge fields, opt-outs both ways, 404, resume, periodic runs."""

from __future__ import annotations

import time
from datetime import date, timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression
from app.models_base import utcnow
from blueprints.mailchimp import jobs as mc_jobs
from blueprints.mailchimp.models import MailchimpSync
from tests.fakes.mailchimp import md5_hash


def connected_secret() -> str:
    from blueprints.mailchimp.models import MailchimpConnection

    return db.session.scalar(select(MailchimpConnection.webhook_secret))


def _sync(call, user, list_id, audience_id, **extra):
    response = call(
        user, "post", "/sync", json={"listId": list_id, "audienceId": audience_id, **extra}
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_lists_audiences(call, manager, connected, fake):
    fake.add_audience("Trade", "aud1")
    fake.add_member("aud1", "a@example.com")
    body = call(manager, "get", "/sync").get_json()
    assert body["items"] == [{"id": "aud1", "name": "Trade", "memberCount": 1}]


def test_sync_pushes_members_with_merge_fields_and_tags(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    vip = make_customer(
        "North",
        name="Alpine Bistro",
        last_order_date=date(2026, 3, 1),
        custom_fields={"tags": ["vip"]},
    )
    other = make_customer("South", name="Harbour Bar")
    list_id = crm_list([vip, other])
    body = _sync(call, manager, list_id, "aud1")
    assert body["status"] == "done"
    assert (body["progressDone"], body["progressTotal"]) == (2, 2)
    member = fake.member("aud1", vip.email)
    assert member["status"] == "subscribed"
    assert member["merge_fields"] == {
        "FNAME": "Alpine Bistro",
        "TERRITORY": "North",
        "REP": "",
        "LASTORDER": "2026-03-01",
    }
    assert [t["name"] for t in member["tags"]] == ["vip"]
    assert fake.member("aud1", other.email)["merge_fields"]["TERRITORY"] == "South"
    polled = call(manager, "get", f"/sync/{body['id']}").get_json()
    assert polled["lastSyncedAt"] and polled["stats"]["new"] == 2
    assert call(manager, "get", "/connect").get_json()["lastSyncAt"]
    secret = connected_secret()
    hooks = fake.audiences["aud1"].webhooks
    assert len(hooks) == 1 and hooks[0]["url"].endswith(f"/webhooks/mailchimp/{secret}")


def test_unsubscribes_flow_both_ways(call, manager, connected, fake, make_customer, crm_list):
    fake.add_audience("Trade", "aud1")
    left_in_mc = make_customer(email="left@example.com")
    bounced = make_customer(email="bounced@example.com")
    opted_out_in_crm = make_customer(email="crmout@example.com")
    fine = make_customer(email="fine@example.com")
    fake.add_member("aud1", "left@example.com", status="unsubscribed")
    fake.add_member("aud1", "bounced@example.com", status="cleaned")
    consent.opt_out("email", "crmout@example.com", reason="unsubscribe", source="test")
    list_id = crm_list([left_in_mc, bounced, opted_out_in_crm, fine])

    body = _sync(call, manager, list_id, "aud1")
    assert body["status"] == "done", body
    # Mailchimp's unsubscribed/cleaned became CRM suppressions, never resubscribed
    reasons = dict(db.session.execute(select(Suppression.address, Suppression.reason)).all())
    assert reasons["left@example.com"] == "unsubscribe"
    assert reasons["bounced@example.com"] == "bounce"
    assert fake.member("aud1", "left@example.com")["status"] == "unsubscribed"
    assert fake.member("aud1", "bounced@example.com")["status"] == "unsubscribed"
    # the CRM opt-out became unsubscribed in Mailchimp
    assert fake.member("aud1", "crmout@example.com")["status"] == "unsubscribed"
    assert fake.member("aud1", "fine@example.com")["status"] == "subscribed"
    assert body["stats"]["pulledUnsubscribed"] == 1 and body["stats"]["pulledCleaned"] == 1


def test_a_later_crm_opt_out_is_pushed_to_synced_audiences(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    customer = make_customer(email="later@example.com")
    _sync(call, manager, crm_list([customer]), "aud1")
    assert fake.member("aud1", "later@example.com")["status"] == "subscribed"
    consent.opt_out("email", "later@example.com", reason="unsubscribe", source="unsubscribe")
    assert fake.member("aud1", "later@example.com")["status"] == "unsubscribed"


def test_deleted_audience_is_reported_on_the_sync(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    list_id = crm_list([make_customer()])
    body = _sync(call, manager, list_id, "aud1")
    del fake.audiences["aud1"]
    sync = db.session.scalar(select(MailchimpSync))
    mc_jobs.run_sync(sync.id)
    polled = call(manager, "get", f"/sync/{body['id']}").get_json()
    assert polled["status"] == "error"
    assert "aud1" in polled["lastError"] and "deleted" in polled["lastError"]
    errors = call(manager, "get", "/connect").get_json()["errors"]
    assert errors and errors[0]["syncId"] == body["id"]


def test_unknown_audience_or_list_is_422(call, manager, connected, fake, make_customer, crm_list):
    fake.add_audience("Trade", "aud1")
    list_id = crm_list([make_customer()])
    response = call(manager, "post", "/sync", json={"listId": list_id, "audienceId": "nope"})
    assert response.status_code == 422
    assert "audienceId" in response.get_json()["error"]["fields"]
    response = call(manager, "post", "/sync", json={"listId": "lst_nope", "audienceId": "aud1"})
    assert response.status_code == 422
    assert "listId" in response.get_json()["error"]["fields"]


def test_batches_of_at_most_500_and_retries_on_429(
    call, manager, connected, fake, bulk_customers, crm_list
):
    fake.add_audience("Trade", "aud1")
    list_id = crm_list(bulk_customers(1200))
    fake.fail_next(1, 429, retry_after="0")
    body = _sync(call, manager, list_id, "aud1")
    assert body["status"] == "done", body
    assert fake.batch_calls == 3
    assert fake.batch_members_received == 1200
    assert len(fake.audiences["aud1"].members) == 1200
    assert fake.max_concurrent <= 10


def test_interrupted_sync_resumes_from_its_cursor(
    call, manager, connected, fake, bulk_customers, crm_list
):
    fake.add_audience("Trade", "aud1")
    customers = bulk_customers(1200)
    list_id = crm_list(customers)
    original = fake.h_batch

    def fail_after_first(m, q, b):
        answer = original(m, q, b)
        if fake.batch_calls == 1:
            fake.fail_next(10, 503)  # more than the sync's bounded retries
        return answer

    fake.h_batch = fail_after_first
    body = _sync(call, manager, list_id, "aud1")
    assert body["status"] == "interrupted"
    assert body["progressDone"] == 500
    sync = db.session.scalar(select(MailchimpSync))
    assert sync.cursor == customers[499].id
    assert len(fake.audiences["aud1"].members) == 500

    fake._failures.clear()
    fake.h_batch = original
    assert mc_jobs.run_due_syncs() == 1  # interrupted syncs are due: resumed
    db.session.refresh(sync)
    assert sync.status == "done"
    assert (sync.progress_done, sync.progress_total) == (1200, 1200)
    assert fake.batch_members_received == 1200  # nothing sent twice
    assert {m["email_address"] for m in fake.audiences["aud1"].members.values()} == {
        c.email for c in customers
    }
    assert sync.cursor == 0


def test_periodic_job_runs_due_syncs_only(call, manager, connected, fake, make_customer, crm_list):
    fake.add_audience("Trade", "aud1")
    list_id = crm_list([make_customer()])
    _sync(call, manager, list_id, "aud1", frequencySeconds=3600)
    assert mc_jobs.run_due_syncs() == 0
    sync = db.session.scalar(select(MailchimpSync))
    sync.last_synced_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    assert mc_jobs.run_due_syncs() == 1
    db.session.refresh(sync)
    assert sync.status == "done"
    assert sync.last_synced_at > utcnow() - timedelta(minutes=1)


def test_a_run_whose_worker_died_is_resumed_once_stale(
    call, manager, connected, fake, bulk_customers, crm_list
):
    """A worker SIGKILLed mid-run leaves the sync "running"; the periodic job resumes it
    from its cursor once it has been silent for MAILCHIMP_SYNC_STALE_SECONDS."""
    fake.add_audience("Trade", "aud1")
    customers = bulk_customers(700)
    list_id = crm_list(customers)
    _sync(call, manager, list_id, "aud1")
    sync = db.session.scalar(select(MailchimpSync))
    # As a killed run leaves it: mid-way, status running, the first 500 pushed.
    sync.status, sync.cursor, sync.progress_done = "running", customers[499].id, 500
    sync.heartbeat_at = utcnow()
    db.session.commit()
    pushed_before = fake.batch_members_received
    assert mc_jobs.run_due_syncs() == 0  # fresh heartbeat: presumed alive

    sync.heartbeat_at = utcnow() - timedelta(seconds=901)
    db.session.commit()
    assert mc_jobs.run_due_syncs() == 1
    db.session.refresh(sync)
    assert sync.status == "done"
    assert (sync.progress_done, sync.progress_total) == (700, 700)
    assert fake.batch_members_received - pushed_before == 200  # resumed after the cursor


def test_import_matches_audience_members_by_email(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    known = make_customer(email="Known@Example.com")
    fake.add_member("aud1", "known@example.com")
    fake.add_member("aud1", "stranger@example.com")
    response = call(manager, "post", "/import", json={"audienceId": "aud1"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["customerIds"] == [known.public_id]
    assert body["unmatchedEmails"] == ["stranger@example.com"]
    # the matched customers go into a CRM list through the lists channel's API
    list_id = crm_list([])
    added = call(
        manager,
        "post",
        f"/api/sales/marketing/lists/{list_id}/members",
        json={"customerIds": body["customerIds"]},
    )
    assert added.status_code == 200
    assert call(manager, "post", "/import", json={"audienceId": "gone"}).status_code == 422


def test_sync_throughput_10000_members(call, manager, connected, fake, bulk_customers, crm_list):
    """Members per second against the local fake (printed; no assertion on time)."""
    fake.add_audience("Trade", "aud1")
    list_id = crm_list(bulk_customers(10_000))
    started = time.perf_counter()
    body = _sync(call, manager, list_id, "aud1")
    elapsed = time.perf_counter() - started
    assert body["status"] == "done"
    assert len(fake.audiences["aud1"].members) == 10_000
    assert fake.batch_calls == 20
    print(f"\nmailchimp sync: 10000 members in {elapsed:.2f}s = {10_000 / elapsed:.0f} members/s")
    assert fake.member("aud1", "bulk9999@example.com")["id"] == md5_hash("bulk9999@example.com")


def test_import_into_a_crm_list_in_one_call(
    call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud2")
    known = make_customer(email="buyer@example.com")
    other = make_customer(email="sommelier@example.com")
    for email in ("buyer@example.com", "sommelier@example.com", "nobody@example.com"):
        fake.add_member("aud2", email)
    list_id = crm_list([])
    body = call(
        manager, "post", "/import", json={"audienceId": "aud2", "listId": list_id}
    ).get_json()
    assert body["added"] == 2 and body["unmatched"] == 1, body
    members = call(manager, "get", f"/api/sales/marketing/lists/{list_id}/members").get_json()
    assert {m["id"] for m in members["items"]} == {known.public_id, other.public_id}
    # importing again adds nobody twice
    again = call(manager, "post", "/import", json={"audienceId": "aud2", "listId": list_id})
    assert again.get_json()["added"] == 0
    bad = call(manager, "post", "/import", json={"audienceId": "aud2", "listId": "lst_nope"})
    assert bad.status_code == 422 and "listId" in bad.get_json()["error"]["fields"]


def test_sync_does_not_re_add_a_member_a_mailchimp_admin_deleted(
    client, call, manager, connected, fake, make_customer, crm_list
):
    fake.add_audience("Trade", "aud1")
    kept, deleted = make_customer(email="kept@example.com"), make_customer(email="gone@example.com")
    list_id = crm_list([kept, deleted])
    hook = "/api/sales/marketing/webhooks/mailchimp/" + connected_secret()
    form = {
        "type": "unsubscribe",
        "fired_at": "2026-04-01 10:00:00",
        "data[email]": "gone@example.com",
        "data[list_id]": "aud1",
        "data[action]": "delete",
    }
    assert client.post(hook, data=form).status_code == 200
    body = _sync(call, manager, list_id, "aud1")
    assert body["status"] == "done"
    assert fake.member("aud1", "kept@example.com")["status"] == "subscribed"
    assert fake.member("aud1", "gone@example.com") is None
    assert not consent.is_suppressed("email", "gone@example.com")
    polled = call(manager, "get", f"/sync/{body['id']}").get_json()
    assert polled["stats"]["skippedUnlinked"] == 1
