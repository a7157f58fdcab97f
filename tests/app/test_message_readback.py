"""Read-back of messages (email, SMS) and consent changes: updatedSince, a stable signed
cursor, status and engagement, scoped to a rep's territory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.crm.models import ConsentChange
from app.extensions import db
from app.messaging import consent, outbox
from app.messaging.outbox import OutboxRow
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage

EMAIL = "/api/sales/marketing/email/messages"
SMS = "/api/sales/marketing/sms/messages"
CONSENT = "/api/sales/consent-changes"


def get(client, headers, url, expect=200):
    response = client.get(url, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)[:1000]
    return response.get_json()


def walk(client, headers, url):
    """Follow nextCursor to the end; the items and the last cursor."""
    items, cursor = [], None
    while True:
        page = get(client, headers, url + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            return items, cursor


def since(seconds: int = 5) -> str:
    return (utcnow() - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def people(make_customer):
    north = make_customer("North", external_id="C-N")
    south = make_customer("South", external_id="C-S")
    return north, south


@pytest.fixture
def emails(people):
    north, south = people
    rows = [
        EmailMessage(to_address=north.email, customer_id=north.id, subject="Hi N", status="sent"),
        EmailMessage(to_address=south.email, customer_id=south.id, subject="Hi S", status="sent"),
        EmailMessage(
            to_address=north.email, customer_id=north.id, subject="Again", status="queued"
        ),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_email_messages_read_back_with_engagement_and_a_cursor(
    client, token_headers, admin, emails
):
    h = token_headers(admin)
    listing = get(client, h, f"{EMAIL}?perPage=10")
    assert [m["subject"] for m in listing["items"]] == ["Again", "Hi S", "Hi N"]  # newest first
    assert listing["items"][2]["customerExternalId"] == "C-N"
    assert listing["items"][2]["engagement"]["opens"] == 0

    first = get(client, h, f"{EMAIL}?updatedSince={since()}&perPage=2")
    assert len(first["items"]) == 2 and first["hasMore"] is True
    seen, cursor = walk(client, h, f"{EMAIL}?updatedSince={since()}&perPage=2")
    assert sorted(m["subject"] for m in seen) == ["Again", "Hi N", "Hi S"]
    assert get(client, h, f"{EMAIL}?cursor={cursor}")["items"] == []

    # an open after the pull: the message comes back on the next one, with its count
    opened = emails[0]
    opened.open_count, opened.first_opened_at = 1, utcnow()
    db.session.commit()
    again = get(client, h, f"{EMAIL}?cursor={cursor}")
    assert [(m["id"], m["engagement"]["opens"]) for m in again["items"]] == [(opened.public_id, 1)]
    assert again["nextCursor"] != cursor


def test_an_outbox_update_moves_a_message_up_the_feed(client, token_headers, admin, emails):
    """The outbox writes set-based (Core UPDATE), not through the ORM: updated_at moves."""
    h = token_headers(admin)
    _, cursor = walk(client, h, f"{EMAIL}?updatedSince={since()}&perPage=50")
    row = OutboxRow({"id": emails[2].id})
    row.status, row.sent_at = "sent", utcnow()
    outbox.save(EmailMessage, [row])
    db.session.commit()
    changed = get(client, h, f"{EMAIL}?cursor={cursor}")["items"]
    assert [(m["subject"], m["status"]) for m in changed] == [("Again", "sent")]


def test_a_rep_reads_back_only_their_territory(client, token_headers, rep, emails, people):
    h = token_headers(rep)  # North
    items, _ = walk(client, h, f"{EMAIL}?updatedSince={since()}&perPage=50")
    assert sorted(m["subject"] for m in items) == ["Again", "Hi N"]
    assert [m["subject"] for m in get(client, h, f"{EMAIL}?perPage=50")["items"]] == [
        "Again",
        "Hi N",
    ]
    hidden = get(client, h, f"{EMAIL}?customerId={people[1].public_id}", expect=422)
    assert "customerId" in hidden["error"]["fields"]


def test_a_forged_or_foreign_cursor_is_refused(client, token_headers, admin, emails):
    h = token_headers(admin)
    _, cursor = walk(client, h, f"{EMAIL}?updatedSince={since()}&perPage=50")
    body = get(client, h, f"{SMS}?cursor={cursor}", expect=422)  # another list's cursor
    assert "cursor" in body["error"]["fields"]
    body = get(client, h, f"{EMAIL}?cursor=x{cursor[1:]}", expect=422)
    assert "cursor" in body["error"]["fields"]
    assert (
        "updatedSince" in get(client, h, f"{EMAIL}?updatedSince=yesterday", 422)["error"]["fields"]
    )


def test_sms_messages_read_back_with_delivery(client, token_headers, admin, rep, people):
    north, south = people
    texts = [
        SmsMessage(to_address=north.phone, customer_id=north.id, body="Hello N", status="sent"),
        SmsMessage(to_address=south.phone, customer_id=south.id, body="Hello S", status="sent"),
        SmsMessage(
            to_address="+15550001111",
            from_address=north.phone,
            customer_id=north.id,
            direction="inbound",
            body="Thanks",
            status="received",
        ),
    ]
    db.session.add_all(texts)
    db.session.commit()
    h = token_headers(admin)
    items, cursor = walk(client, h, f"{SMS}?updatedSince={since()}&perPage=2")
    assert sorted(m["body"] for m in items) == ["Hello N", "Hello S", "Thanks"]
    inbound = get(client, h, f"{SMS}?direction=inbound")["items"]
    assert [(m["body"], m["from"]) for m in inbound] == [("Thanks", north.phone)]

    row = OutboxRow({"id": texts[1].id})
    row.delivery_status, row.delivered_at = "delivered", utcnow()
    outbox.save(SmsMessage, [row])
    db.session.commit()
    changed = get(client, h, f"{SMS}?cursor={cursor}")["items"]
    assert [(m["body"], m["deliveryStatus"]) for m in changed] == [("Hello S", "delivered")]

    mine, _ = walk(client, token_headers(rep), f"{SMS}?updatedSince={since()}&perPage=50")
    assert sorted(m["body"] for m in mine) == ["Hello N", "Thanks"]


def test_consent_changes_read_back_in_ledger_order(client, token_headers, admin, rep, people):
    north, south = people
    consent.opt_out("email", north.email, reason="unsubscribe", source="link", customer_id=north.id)
    consent.opt_out("sms", south.phone, reason="stop", source="keyword", customer_id=south.id)
    consent.opt_out("sms", "+15559990000", reason="stop", source="keyword")  # no customer
    db.session.commit()
    h = token_headers(admin)
    listing = get(client, h, f"{CONSENT}?perPage=10")["items"]
    assert [c["address"] for c in listing] == ["+15559990000", south.phone, north.email]
    entries, cursor = walk(client, h, f"{CONSENT}?updatedSince={since()}&perPage=2")
    assert [c["address"] for c in entries] == [north.email, south.phone, "+15559990000"]
    assert entries[0]["customerExternalId"] == "C-N" and entries[0]["status"] == "opted_out"
    assert get(client, h, f"{CONSENT}?cursor={cursor}")["items"] == []

    response = client.post(
        f"/api/sales/customers/{north.public_id}/consent",
        json={"channel": "sms", "status": "opted_in", "method": "written", "wording": "Yes"},
        headers=h,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    after = get(client, h, f"{CONSENT}?cursor={cursor}")["items"]
    assert [(c["address"], c["status"], c["customerId"]) for c in after] == [
        (north.phone, "opted_in", north.public_id)
    ]

    theirs, _ = walk(client, token_headers(rep), f"{CONSENT}?updatedSince={since()}&perPage=50")
    assert {c["customerId"] for c in theirs} == {north.public_id}
    assert db.session.query(ConsentChange).count() == 4
