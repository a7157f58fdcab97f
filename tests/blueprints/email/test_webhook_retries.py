"""Issue 20 items 4 and 9 for the email providers' event webhooks: an event whose
processing fails (a table refusing writes, for real) is kept, answered 503 and applied
on the provider's retry; SES refuses everything without SES_TOPIC_ARN (and fetches no
certificate); SendGrid refuses a signed timestamp older than the tolerance."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app.extensions import db
from app.messaging.consent import is_suppressed
from blueprints.email.models import EmailMessage
from blueprints.webhooks import email as email_hooks
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.email.conftest import count
from tests.conftest import app_settings
from tests.fakes.resend import signed_webhook
from tests.faults.triggers import MESSAGE, inserts_fail
from tests.providers.test_email_events import CERT_URL, TOPIC, sns_sign

HOOKS = "/api/sales/marketing/webhooks"
RESEND_SECRET = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


@pytest.fixture
def app_config(database_url):
    return app_settings(
        database_url,
        SENDGRID_WEBHOOK_PUBLIC_KEY=SENDGRID_PUBLIC,
        RESEND_WEBHOOK_SECRET=RESEND_SECRET,
        SES_TOPIC_ARN=TOPIC,
    )


@pytest.fixture
def sent(app, manager, make_customer, call) -> EmailMessage:
    customer = make_customer("North", email="ann@shop.example")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"to": customer.email, "customerId": customer.public_id, "subject": "S", "html": "x"},
    )
    assert r.status_code == 201, r.get_json()
    return EmailMessage.query.one()


@pytest.fixture(scope="module")
def sns_cert() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def cert_fetches(monkeypatch, sns_cert) -> list[str]:
    """The SNS certificate download (an https GET to AWS) answered locally; records URLs."""
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return sns_cert[1]

    monkeypatch.setattr(email_hooks, "fetch_cert", fetch)
    return calls


def sendgrid_post(client, events: list[dict[str, Any]], timestamp: int | None = None):
    body = json.dumps(events).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SENDGRID_KEY.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
    }
    return client.post(f"{HOOKS}/sendgrid", data=body, headers=headers)


def spamreport(message: EmailMessage) -> list[dict[str, Any]]:
    return [
        {
            "email": message.to_address,
            "timestamp": int(time.time()),
            "event": "spamreport",
            "sg_event_id": "spam-1",
            "sg_message_id": "x.1",
            "message_id": message.public_id,
        }
    ]


def ses_complaint(message: EmailMessage, key: rsa.RSAPrivateKey, topic: str = TOPIC) -> dict:
    record = {
        "eventType": "Complaint",
        "mail": {
            "timestamp": "2026-05-01T10:00:00.000Z",
            "messageId": "ses-1",
            "destination": [message.to_address],
            "tags": {"message_id": [message.public_id]},
        },
        "complaint": {
            "complainedRecipients": [{"emailAddress": message.to_address}],
            "timestamp": "2026-05-01T10:00:02.000Z",
            "feedbackId": "feedback-1",
        },
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-complaint-1",
        "TopicArn": topic,
        "Message": json.dumps(record),
        "Timestamp": "2026-05-01T10:00:03.000Z",
    }
    return sns_sign(envelope, key, "2")


def the_event() -> WebhookEvent:
    db.session.expire_all()
    return db.session.scalar(select(WebhookEvent))


def test_sendgrid_complaint_failing_once_is_applied_on_retry(client, sent):
    with inserts_fail("suppression"):
        assert sendgrid_post(client, spamreport(sent)).status_code == 503
    assert not is_suppressed("email", sent.to_address)
    kept = the_event()
    assert kept.status == "pending" and MESSAGE in kept.error
    again = sendgrid_post(client, spamreport(sent))  # SendGrid retries, newly signed
    assert again.status_code == 200 and again.get_json()["new"] == 1
    assert is_suppressed("email", sent.to_address) and the_event().status == "done"
    assert EmailMessage.query.one().complained_at is not None


def test_resend_complaint_failing_once_is_applied_on_retry(client, sent):
    event = {
        "type": "email.complained",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "email_id": "re1",
            "to": [sent.to_address],
            "tags": {"message_id": sent.public_id},
        },
    }
    body, headers = signed_webhook(RESEND_SECRET, event, msg_id="msg_fail_once")
    with inserts_fail("suppression"):
        assert client.post(f"{HOOKS}/resend", data=body, headers=headers).status_code == 503
    assert not is_suppressed("email", sent.to_address)
    assert client.post(f"{HOOKS}/resend", data=body, headers=headers).status_code == 200
    assert is_suppressed("email", sent.to_address) and the_event().status == "done"


def test_ses_complaint_failing_once_is_applied_on_retry(client, sent, sns_cert, cert_fetches):
    message = ses_complaint(sent, sns_cert[0])
    with inserts_fail("suppression"):
        assert client.post(f"{HOOKS}/ses", json=message).status_code == 503
    assert not is_suppressed("email", sent.to_address)
    assert client.post(f"{HOOKS}/ses", json=message).status_code == 200
    assert is_suppressed("email", sent.to_address) and the_event().status == "done"
    assert cert_fetches and set(cert_fetches) == {CERT_URL}


def test_ses_without_a_configured_topic_refuses_everything(
    app, client, sent, sns_cert, cert_fetches
):
    app.config["SES_TOPIC_ARN"] = None
    response = client.post(f"{HOOKS}/ses", json=ses_complaint(sent, sns_cert[0]))
    assert response.status_code == 403
    assert "SES_TOPIC_ARN" in response.get_json()["error"]["message"]
    assert cert_fetches == []  # refused before fetching any certificate
    assert count(WebhookEvent) == 0 and not is_suppressed("email", sent.to_address)


def test_ses_from_another_topic_is_refused(client, sent, sns_cert, cert_fetches):
    other = TOPIC.replace("decant-ses-events", "someone-elses-topic")
    response = client.post(f"{HOOKS}/ses", json=ses_complaint(sent, sns_cert[0], other))
    assert response.status_code == 403 and cert_fetches == []
    assert count(WebhookEvent) == 0


def test_sendgrid_signed_timestamp_older_than_the_tolerance_is_refused(app, client, sent):
    stale = int(time.time()) - 301
    response = sendgrid_post(client, spamreport(sent), timestamp=stale)
    assert response.status_code == 403
    assert count(WebhookEvent) == 0 and not is_suppressed("email", sent.to_address)
    app.config["SENDGRID_WEBHOOK_TOLERANCE"] = 600  # configurable
    assert sendgrid_post(client, spamreport(sent), timestamp=stale).status_code == 200
    assert is_suppressed("email", sent.to_address)
