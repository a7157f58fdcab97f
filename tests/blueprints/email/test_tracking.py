"""Tracking (opens, clicks, no open redirect, tamper-proof tokens), one-click unsubscribe,
preferences, and provider webhooks (signed, unsigned, duplicate)."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete

from app.crm.models import Activity, ConsentChange
from app.extensions import db
from app.messaging import signing
from app.messaging.consent import is_suppressed
from app.messaging.models import Campaign
from app.signals import customer_opted_out
from blueprints.email.models import EmailEvent, EmailLink, EmailMessage
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.email.conftest import count, dev_messages
from tests.conftest import app_settings
from tests.fakes.resend import signed_webhook

RESEND_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    _KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
HTML = '<p>Hi {{ customer_name }}</p><a href="https://shop.example/a">A</a> <a href="https://shop.example/b?x=1">B</a>'


@pytest.fixture
def app_config(database_url):
    return app_settings(
        database_url,
        SENDGRID_WEBHOOK_PUBLIC_KEY=SENDGRID_PUBLIC,
        RESEND_WEBHOOK_SECRET=RESEND_SECRET,
    )


@pytest.fixture
def sent(app, manager, make_customer, call):
    customer = make_customer("North", email="ann@shop.example")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"to": customer.email, "customerId": customer.public_id, "subject": "S", "html": HTML},
    )
    assert r.status_code == 201
    return EmailMessage.query.one()


def _links(message: EmailMessage, kind: str) -> list[str]:
    return [
        u.replace("http://localhost", "")
        for u in re.findall(rf'"(http://localhost/email/{kind}/[^"]+)"', message.html)
    ]


def test_open_and_click_counted_total_and_unique(client, sent):
    pixel = _links(sent, "t/o")[0]
    for _ in range(2):
        r = client.get(pixel)
        assert r.status_code == 200 and r.mimetype == "image/gif"
    link_a, link_b = _links(sent, "t/c")
    r = client.get(link_b)
    assert r.status_code == 302 and r.headers["Location"] == "https://shop.example/b?x=1"
    client.get(link_a)
    m = EmailMessage.query.one()
    assert m.open_count == 2 and m.click_count == 2 and m.first_opened_at and m.last_clicked_at
    assert count(EmailEvent, EmailEvent.type == "open") == 2
    assert count(EmailEvent, EmailEvent.type == "click") == 2
    notes = Activity.query.one().notes
    assert "Opened 2×" in notes and "clicked 2×" in notes


def test_tampered_or_foreign_tokens_do_not_redirect(client, sent):
    link = _links(sent, "t/c")[0]
    token = link.split("/")[-2]
    forged_link = link.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert client.get(forged_link).status_code == 404
    legacy = signing.sign("click", [sent.id, "https://shop.example/a"])
    payload, _, sig = legacy.partition(".")
    forged = (
        base64.urlsafe_b64encode(json.dumps([sent.id, "https://evil.example"]).encode())
        .decode()
        .rstrip("=")
    )
    assert client.get(f"/email/t/c/{forged}.{sig}").status_code == 404
    # A valid open or unsubscribe token is no click token (salted per purpose).
    open_token = _links(sent, "t/o")[0].rsplit("/", 1)[1].removesuffix(".gif")
    assert client.get(f"/email/t/c/{open_token}").status_code == 404
    assert client.get("/email/t/c/?next=https://evil.example").status_code == 404
    assert EmailMessage.query.one().click_count == 0


def test_one_click_unsubscribe(client, sent):
    heard = []

    def listen(sender, **kw):
        heard.append(kw)

    customer_opted_out.connect(listen, weak=False)
    try:
        unsub = _links(sent, "unsubscribe")[0]
        page = client.get(unsub)
        assert page.status_code == 200 and not is_suppressed("email", "ann@shop.example")
        r = client.post(unsub, data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200
    finally:
        customer_opted_out.disconnect(listen)
    assert is_suppressed("email", "ann@shop.example")
    assert heard and heard[0]["address"] == "ann@shop.example"
    assert ConsentChange.query.filter_by(status="opted_out").count() == 1
    assert EmailMessage.query.one().unsubscribed_at is not None
    # The preference page lets them come back, through a confirmation sent to the address.
    prefs = _links(sent, "preferences")[0]
    assert "You are unsubscribed" in client.get(prefs).get_data(as_text=True)
    client.post(prefs, data={"action": "subscribe"})
    assert is_suppressed("email", "ann@shop.example")
    confirmation = dev_messages()[-1]
    assert confirmation.to == "ann@shop.example" and "Confirm" in confirmation.subject
    link = re.findall(r'"http://localhost(/email/confirm/[^"]+)"', confirmation.html)[0]
    assert client.get(link).status_code == 200  # a scanner's GET changes nothing
    assert is_suppressed("email", "ann@shop.example")
    client.post(link)
    assert not is_suppressed("email", "ann@shop.example")
    assert client.post(unsub.replace("unsubscribe/", "unsubscribe/x")).status_code == 404


def _sendgrid_post(client, events, *, sign=True):
    body = json.dumps(events).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json"}
    if sign:
        sig = _KEY.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(sig).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = ts
    return client.post("/api/sales/marketing/webhooks/sendgrid", data=body, headers=headers)


def test_sendgrid_webhook_signed_unsigned_duplicate(client, sent):
    events = [
        {
            "email": sent.to_address,
            "timestamp": int(time.time()),
            "event": "delivered",
            "sg_event_id": "e1",
            "sg_message_id": "x.1",
            "message_id": sent.public_id,
        },
        {
            "email": sent.to_address,
            "timestamp": int(time.time()),
            "event": "open",
            "sg_event_id": "e2",
            "sg_message_id": "x.1",
            "message_id": sent.public_id,
        },
        {
            "email": sent.to_address,
            "timestamp": int(time.time()),
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": "e3",
            "sg_message_id": "x.1",
            "message_id": sent.public_id,
        },
    ]
    assert _sendgrid_post(client, events, sign=False).status_code == 403
    tampered = _sendgrid_post(client, events)
    assert tampered.status_code == 200
    assert count(WebhookEvent) == 3
    m = EmailMessage.query.one()
    assert m.delivered_at and m.open_count == 1 and m.bounced_at
    assert is_suppressed("email", sent.to_address)  # hard bounce
    again = _sendgrid_post(client, events)
    assert again.status_code == 200 and again.get_json()["new"] == 0
    assert count(WebhookEvent) == 3 and EmailMessage.query.one().open_count == 1


def test_unsigned_or_wrong_sendgrid_writes_nothing(client, sent):
    body = json.dumps(
        [{"event": "open", "sg_event_id": "z", "timestamp": 1, "message_id": sent.public_id}]
    )
    r = client.post(
        "/api/sales/marketing/webhooks/sendgrid",
        data=body,
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": "bad",
            "X-Twilio-Email-Event-Webhook-Timestamp": "1",
        },
    )
    assert r.status_code == 403 and count(WebhookEvent) == 0 and count(EmailEvent) == 0


def test_resend_webhook_signed_unsigned_duplicate(client, sent):
    event = {
        "type": "email.clicked",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "email_id": "re1",
            "to": [sent.to_address],
            "tags": {"message_id": sent.public_id},
            "click": {"link": "https://shop.example/a", "timestamp": "2026-01-01T00:00:00Z"},
        },
    }
    body, headers = signed_webhook(RESEND_SECRET, event, msg_id="msg_1")
    url = "/api/sales/marketing/webhooks/resend"
    assert (
        client.post(url, data=body, headers={**headers, "svix-signature": "v1,AAAA"}).status_code
        == 403
    )
    assert client.post(url, data=body).status_code == 403
    assert count(WebhookEvent) == 0
    assert client.post(url, data=body, headers=headers).get_json()["new"] == 1
    assert client.post(url, data=body, headers=headers).get_json()["new"] == 0
    assert EmailMessage.query.one().click_count == 1
    complaint = {**event, "type": "email.complained"}
    body, headers = signed_webhook(RESEND_SECRET, complaint, msg_id="msg_2")
    client.post(url, data=body, headers=headers)
    assert is_suppressed("email", sent.to_address) and EmailMessage.query.one().complained_at


def test_ses_without_valid_signature_is_403(client, sent):
    msg = {
        "Type": "Notification",
        "MessageId": "1",
        "TopicArn": "arn:x",
        "Message": "{}",
        "Timestamp": "2026-01-01T00:00:00Z",
        "SignatureVersion": "1",
        "Signature": "AAAA",
        "SigningCertURL": "https://evil.example/cert.pem",
    }
    assert client.post("/api/sales/marketing/webhooks/ses", json=msg).status_code == 403
    assert client.post("/api/sales/marketing/webhooks/ses", data=b"nope").status_code == 403
    assert count(WebhookEvent) == 0
    assert dev_messages()  # the send itself went to the dev outbox


def test_campaign_links_are_numbered_under_the_message_tracking_token(
    client, manager, make_customer, make_list, call, sent
):
    customers = [make_customer("North") for _ in range(2)]
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": make_list(manager, customers), "subject": "S", "html": HTML},
    )
    assert r.status_code == 202, r.get_json()
    message = EmailMessage.query.filter(EmailMessage.campaign_id.is_not(None)).first()
    [delivered] = [d for d in dev_messages() if d.to == message.to_address]  # as it went
    links = _links(delivered, "t/c")
    pixel_token = _links(delivered, "t/o")[0].rsplit("/", 1)[1].removesuffix(".gif")
    assert links == [f"/email/t/c/{pixel_token}/0", f"/email/t/c/{pixel_token}/1"]
    b, a = (
        _sent_to("https://shop.example/b?x=1", message),
        _sent_to("https://shop.example/a", message),
    )
    assert client.get(links[1]).headers["Location"] == b
    assert client.get(links[0]).headers["Location"] == a
    # Only the message's own links: no third one, no other purpose's token, no forgery.
    assert client.get(f"/email/t/c/{pixel_token}/2").status_code == 404
    unsubscribe_token = _links(delivered, "unsubscribe")[0].rsplit("/", 1)[1]
    assert client.get(f"/email/t/c/{unsubscribe_token}/0").status_code == 404
    forged = pixel_token[:-2] + ("AA" if not pixel_token.endswith("AA") else "BB")
    assert client.get(f"/email/t/c/{forged}/0").status_code == 404
    # A single send numbers its own links, stored with it.
    single_token = _links(sent, "t/o")[0].rsplit("/", 1)[1].removesuffix(".gif")
    assert (
        client.get(f"/email/t/c/{single_token}/0").headers["Location"] == "https://shop.example/a"
    )
    assert client.get(f"/email/t/c/{single_token}/2").status_code == 404
    message = db.session.get(EmailMessage, message.id)
    assert message.click_count == 2
    assert sorted(
        e.url for e in EmailEvent.query.filter_by(message_id=message.id, type="click")
    ) == [a, b]


def _sent_to(url: str, message: EmailMessage) -> str:
    """Where a campaign's link sends the reader: the URL with the campaign's UTM tags."""
    campaign = db.session.get(Campaign, message.campaign_id)
    return f"{url}{'&' if '?' in url else '?'}utm_source=decant&utm_medium=email" + (
        f"&utm_campaign={campaign.public_id}"
    )


def _campaign_message_links(client, manager, make_customer, make_list, call, html):
    customers = [make_customer("North") for _ in range(2)]
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": make_list(manager, customers), "subject": "S", "html": html},
    )
    assert r.status_code == 202, r.get_json()
    message = EmailMessage.query.filter(EmailMessage.campaign_id.is_not(None)).first()
    [delivered] = [d for d in dev_messages() if d.to == message.to_address]
    return message, _links(delivered, "t/c")


def test_a_click_goes_where_the_sent_link_went_whatever_the_campaign_becomes(
    client, manager, make_customer, make_list, call
):
    """Links are stored when the campaign is prepared: editing its HTML afterwards (or
    a new CSS inliner, or new numbering code) cannot send a click elsewhere."""
    message, links = _campaign_message_links(client, manager, make_customer, make_list, call, HTML)
    campaign = db.session.get(Campaign, message.campaign_id)
    campaign.html = (
        '<a href="https://other.example/new">New</a><a href="https://shop.example/a">A</a>'
    )
    db.session.commit()
    assert client.get(links[0]).headers["Location"] == _sent_to("https://shop.example/a", message)
    assert client.get(links[1]).headers["Location"] == _sent_to(
        "https://shop.example/b?x=1", message
    )


def test_links_of_campaigns_sent_before_links_were_stored_still_resolve(
    client, manager, make_customer, make_list, call
):
    """A campaign prepared before migration 0023 has no stored links: its clicks are
    numbered from its HTML as they were then."""
    message, links = _campaign_message_links(client, manager, make_customer, make_list, call, HTML)
    db.session.execute(delete(EmailLink).where(EmailLink.campaign_id == message.campaign_id))
    db.session.commit()
    assert client.get(links[1]).headers["Location"] == "https://shop.example/b?x=1"
    assert client.get(links[0]).headers["Location"] == "https://shop.example/a"
    assert client.get(links[0][:-1] + "2").status_code == 404


def test_a_campaign_rendered_per_recipient_stores_each_messages_links(
    client, manager, make_customer, make_list, call
):
    """A template whose shape may vary per recipient (a block) is rendered per message:
    each message's links are its own stored list."""
    html = "{% if territory %}<p>{{ territory }}</p>{% endif %}" + HTML
    message, links = _campaign_message_links(client, manager, make_customer, make_list, call, html)
    assert not EmailLink.query.filter_by(campaign_id=message.campaign_id).count()
    assert EmailLink.query.filter_by(message_id=message.id).count() == 2
    db.session.get(Campaign, message.campaign_id).html = "<p>gone</p>"
    db.session.commit()
    assert client.get(links[1]).headers["Location"] == _sent_to(
        "https://shop.example/b?x=1", message
    )
