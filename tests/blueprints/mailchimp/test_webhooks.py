"""Mailchimp webhooks: URL validation, each event type, wrong secret, duplicates."""

from __future__ import annotations

from sqlalchemy import func, select

from app.crm.models import Activity
from app.extensions import db
from app.messaging import consent
from blueprints.mailchimp.models import MailchimpConnection
from blueprints.webhooks.models import WebhookEvent

HOOK = "/api/sales/marketing/webhooks/mailchimp/"


def _url() -> str:
    conn = db.session.scalar(select(MailchimpConnection))
    return HOOK + conn.webhook_secret


def _event(
    kind: str, email: str = "bob@example.com", fired_at: str = "2026-04-01 10:00:00", **data
):
    form = {
        "type": kind,
        "fired_at": fired_at,
        "data[email]": email,
        "data[list_id]": "aud1",
        "data[merges][FNAME]": "Bob",
    }
    form.update({f"data[{k}]": v for k, v in data.items()})
    return form


def _events() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEvent))


def test_get_validation_answers_200(client, connected):
    assert client.get(_url()).status_code == 200


def test_wrong_secret_is_404_and_writes_nothing(client, connected, make_customer):
    make_customer(email="bob@example.com")
    assert client.get(HOOK + "wrong").status_code == 404
    assert client.post(HOOK + "wrong", data=_event("unsubscribe")).status_code == 404
    assert _events() == 0
    assert not consent.is_suppressed("email", "bob@example.com")


def test_no_connection_means_404(client):
    assert client.post(HOOK + "anything", data=_event("unsubscribe")).status_code == 404


def test_unsubscribe_and_cleaned_suppress(client, connected, make_customer):
    bob = make_customer(email="bob@example.com")
    assert client.post(_url(), data=_event("unsubscribe", reason="manual")).status_code == 200
    assert consent.is_suppressed("email", "bob@example.com")
    current = consent.head("email", bob.email)
    assert current.status == "opted_out" and current.source == "mailchimp"
    client.post(_url(), data=_event("cleaned", email="gone@example.com", reason="hard"))
    assert consent.is_suppressed("email", "gone@example.com")


def _head(customer):
    db.session.expire_all()
    return consent.head("email", customer.email)


def test_subscribe_does_not_lift_a_decant_opt_out(client, connected, make_customer, fake):
    """Issue 20 item 5: anyone can fill Mailchimp's public form; a Decant opt-out stands,
    the request is noted on the timeline and the opt-out is pushed back to Mailchimp."""
    fake.add_audience("Trade", "aud1")
    fake.add_member("aud1", "bob@example.com")
    bob = make_customer(email="bob@example.com")
    consent.opt_out("email", "bob@example.com", reason="unsubscribe", source="test")
    from blueprints.mailchimp.models import MailchimpSync

    db.session.add(MailchimpSync(list_ref="lst_x", audience_id="aud1"))
    db.session.commit()
    assert client.post(_url(), data=_event("subscribe")).status_code == 200
    assert consent.is_suppressed("email", "bob@example.com")
    assert _head(bob).status == "opted_out"
    note = db.session.scalar(select(Activity).where(Activity.customer_id == bob.id))
    assert note.subject == "Mailchimp signup not applied"
    assert fake.member("aud1", "bob@example.com")["status"] == "unsubscribed"


def test_subscribe_does_not_lift_a_suppression_without_a_customer(client, connected):
    consent.opt_out("email", "stranger@example.com", reason="complaint", source="test")
    form = _event("subscribe", email="stranger@example.com")
    assert client.post(_url(), data=form).status_code == 200
    assert consent.is_suppressed("email", "stranger@example.com")


def test_subscribe_of_someone_not_opted_out_records_consent(client, connected, make_customer):
    bob = make_customer(email="bob@example.com")
    assert client.post(_url(), data=_event("subscribe")).status_code == 200
    head = _head(bob)
    assert head.status == "opted_in" and head.source == "mailchimp"


def test_admin_delete_is_not_a_global_unsubscribe(client, connected, make_customer):
    """``unsubscribe`` with ``action=delete`` is a Mailchimp admin removing the member:
    no suppression, no opt-out; only that audience's sync stops re-adding them."""
    from blueprints.mailchimp.models import MailchimpUnlinkedMember

    bob = make_customer(email="Bob@Example.com")
    form = _event("unsubscribe", email="Bob@Example.com", action="delete", reason="manual")
    assert client.post(_url(), data=form).status_code == 200
    assert not consent.is_suppressed("email", "bob@example.com")
    head = _head(bob)
    assert head is None or head.status != "opted_out"
    unlinked = db.session.scalars(select(MailchimpUnlinkedMember)).all()
    assert [(u.audience_id, u.email) for u in unlinked] == [("aud1", "bob@example.com")]
    assert client.post(_url(), data=_event("subscribe", fired_at="2026-04-02 10:00:00"))
    assert db.session.scalars(select(MailchimpUnlinkedMember)).all() == []


def test_profile_logs_a_note_and_upemail_follows_the_address(client, connected, make_customer):
    bob = make_customer(email="bob@example.com")
    client.post(_url(), data=_event("profile"))
    note = db.session.scalar(select(Activity).where(Activity.customer_id == bob.id))
    assert note.subject == "Mailchimp profile updated" and "FNAME=Bob" in note.notes
    form = _event("upemail", old_email="bob@example.com", new_email="robert@example.com")
    del form["data[email]"]
    assert client.post(_url(), data=form).status_code == 200
    db.session.refresh(bob)
    assert bob.email == "robert@example.com"


def test_duplicate_delivery_is_ignored(client, connected, make_customer):
    make_customer(email="bob@example.com")
    first = client.post(_url(), data=_event("unsubscribe"))
    second = client.post(_url(), data=_event("unsubscribe"))
    assert first.get_json() == {"ok": True}
    assert second.get_json() == {"ok": True, "duplicate": True}
    assert _events() == 1
    client.post(_url(), data=_event("unsubscribe", fired_at="2026-04-02 10:00:00"))
    assert _events() == 2


def test_unknown_type_is_400(client, connected):
    assert client.post(_url(), data=_event("mystery")).status_code == 400
    assert _events() == 0


def test_unsubscribe_failing_once_is_applied_when_mailchimp_retries(
    client, connected, make_customer
):
    """Issue 20 item 4: the failed event is kept and answered 503, so Mailchimp's retry
    is applied instead of being taken for a duplicate."""
    from tests.faults.triggers import inserts_fail

    make_customer(email="bob@example.com")
    with inserts_fail("suppression"):
        assert client.post(_url(), data=_event("unsubscribe")).status_code == 503
    assert not consent.is_suppressed("email", "bob@example.com")
    retried = client.post(_url(), data=_event("unsubscribe"))
    assert retried.status_code == 200 and retried.get_json() == {"ok": True}
    assert consent.is_suppressed("email", "bob@example.com")
    assert _events() == 1
