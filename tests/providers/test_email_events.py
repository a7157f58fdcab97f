"""Webhook signatures (real keys, signed as each provider signs) and event normalisation."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from providers.email.events import (
    EmailEvent,
    parse_resend,
    parse_sendgrid,
    parse_ses,
    sns_cert_url_allowed,
    verify_resend,
    verify_sendgrid,
    verify_sns,
)
from tests.fakes.resend import signed_webhook

# -- SendGrid -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()  # as SendGrid's settings page shows it


def sendgrid_sign(private: ec.EllipticCurvePrivateKey, timestamp: str, payload: bytes) -> str:
    """What SendGrid puts in X-Twilio-Email-Event-Webhook-Signature."""
    signature = private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


SENDGRID_EVENTS = [
    {
        "email": "ann@example.test",
        "timestamp": 1700000000,
        "event": "processed",
        "sg_event_id": "ev-processed",
        "sg_message_id": "XMSGID.filter0001.1.0",
        "message_id": "42",
    },
    {
        "email": "ann@example.test",
        "timestamp": 1700000060,
        "event": "delivered",
        "sg_event_id": "ev-delivered",
        "sg_message_id": "XMSGID.filter0001.1.0",
        "message_id": "42",
    },
    {
        "email": "bob@example.test",
        "timestamp": 1700000100,
        "event": "bounce",
        "type": "bounce",
        "reason": "550 5.1.1 unknown user",
        "sg_event_id": "ev-bounce",
        "sg_message_id": "XMSGID.filter0001.2.0",
        "message_id": "43",
    },
    {
        "email": "cy@example.test",
        "timestamp": 1700000120,
        "event": "bounce",
        "type": "blocked",
        "sg_event_id": "ev-blocked",
        "sg_message_id": "XMSGID.filter0001.3.0",
    },
    {
        "email": "ann@example.test",
        "timestamp": 1700000200,
        "event": "click",
        "url": "https://decant.test/wines",
        "sg_event_id": "ev-click",
        "sg_message_id": "XMSGID.filter0001.1.0",
        "message_id": "42",
    },
    {
        "email": "ann@example.test",
        "timestamp": 1700000300,
        "event": "spamreport",
        "sg_event_id": "ev-spam",
        "sg_message_id": "XMSGID.filter0001.1.0",
        "message_id": "42",
    },
    {"email": "ann@example.test", "timestamp": 1700000400, "event": "group_resubscribe"},
]


def test_sendgrid_signature_verifies_and_tampering_fails(
    sendgrid_key: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = sendgrid_key
    payload = json.dumps(SENDGRID_EVENTS).encode()
    timestamp = "1700000500"
    signature = sendgrid_sign(private, timestamp, payload)

    assert verify_sendgrid(public, payload, signature, timestamp)
    assert not verify_sendgrid(public, payload.replace(b"bounce", b"bounds"), signature, timestamp)
    assert not verify_sendgrid(public, payload, signature, "1700000501")
    other = sendgrid_sign(private, timestamp, payload + b" ")
    assert not verify_sendgrid(public, payload, other, timestamp)
    assert not verify_sendgrid(public, payload, "not base64!", timestamp)
    assert not verify_sendgrid(public, payload, "", timestamp)
    pem = f"-----BEGIN PUBLIC KEY-----\n{public}\n-----END PUBLIC KEY-----\n"
    assert verify_sendgrid(pem, payload, signature, timestamp)


def test_sendgrid_signature_tolerance_refuses_stale_timestamps(
    sendgrid_key: tuple[ec.EllipticCurvePrivateKey, str],
) -> None:
    private, public = sendgrid_key
    payload = b"[]"
    now = datetime(2024, 1, 1, tzinfo=UTC)
    fresh = str(int(now.timestamp()) - 60)
    stale = str(int(now.timestamp()) - 3600)
    sign = sendgrid_sign
    assert verify_sendgrid(
        public, payload, sign(private, fresh, payload), fresh, tolerance=300, now=now
    )
    assert not verify_sendgrid(
        public, payload, sign(private, stale, payload), stale, tolerance=300, now=now
    )


def test_sendgrid_bad_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        verify_sendgrid("not-a-key", b"[]", "c2ln", "1")


def test_parse_sendgrid_normalises_events() -> None:
    events = parse_sendgrid(json.dumps(SENDGRID_EVENTS).encode())

    assert [(e.type, e.event_id) for e in events] == [
        ("sent", "ev-processed"),
        ("delivered", "ev-delivered"),
        ("bounce", "ev-bounce"),
        ("bounce", "ev-blocked"),
        ("click", "ev-click"),
        ("complaint", "ev-spam"),
    ]
    bounce = events[2]
    assert bounce.hard and bounce.email == "bob@example.test"
    assert bounce.our_message_id == "43"
    assert bounce.provider_message_id == "XMSGID"
    assert not events[3].hard  # "blocked" is SendGrid's soft bounce
    assert events[4].url == "https://decant.test/wines"
    assert events[0].occurred_at == datetime.fromtimestamp(1700000000, UTC)
    assert events[0].occurred_at.tzinfo is not None


@pytest.mark.parametrize("payload", [b"not json", b"{}", b"[1]"])
def test_parse_sendgrid_refuses_malformed_payloads(payload: bytes) -> None:
    with pytest.raises(ValueError):
        parse_sendgrid(payload)


# -- Resend ---------------------------------------------------------------------------

RESEND_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()

RESEND_BOUNCE = {
    "type": "email.bounced",
    "created_at": "2024-11-22T23:41:12.126Z",
    "data": {
        "created_at": "2024-11-22 23:41:11.894719+00",
        "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
        "from": "Decant Wines <news@decant.test>",
        "to": ["bob@example.test"],
        "subject": "Spring list",
        "bounce": {"message": "550 unknown user", "subType": "General", "type": "Permanent"},
        "tags": {"message_id": "43"},
    },
}


def test_resend_signature_verifies_and_tampering_fails() -> None:
    body, headers = signed_webhook(RESEND_SECRET, RESEND_BOUNCE)

    assert verify_resend(RESEND_SECRET, body, headers)
    assert not verify_resend(RESEND_SECRET, body.replace(b"Permanent", b"Transient"), headers)
    moved = {**headers, "svix-timestamp": str(int(headers["svix-timestamp"]) - 1)}
    assert not verify_resend(RESEND_SECRET, body, moved)
    assert not verify_resend(RESEND_SECRET, body, {**headers, "svix-id": "msg_other"})
    assert not verify_resend(RESEND_SECRET, body, {**headers, "svix-signature": "v1,AAAA"})
    assert not verify_resend(RESEND_SECRET, body, {**headers, "svix-signature": "garbage"})
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    assert not verify_resend(other_secret, body, headers)
    assert not verify_resend(RESEND_SECRET, body, {})


def test_resend_signature_refuses_old_deliveries() -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    body, headers = signed_webhook(RESEND_SECRET, RESEND_BOUNCE, when=old)
    assert not verify_resend(RESEND_SECRET, body, headers)


def test_resend_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        verify_resend("whsec_", b"{}", {})


def test_parse_resend_normalises_events() -> None:
    body, headers = signed_webhook(RESEND_SECRET, RESEND_BOUNCE, msg_id="msg_1")
    [bounce] = parse_resend(body, headers)
    assert bounce == EmailEvent(
        provider="resend",
        event_id="msg_1:0",
        type="bounce",
        email="bob@example.test",
        provider_message_id="56761188-7520-42d8-8898-ff6fc54ce618",
        our_message_id="43",
        occurred_at=datetime(2024, 11, 22, 23, 41, 12, 126000, tzinfo=UTC),
        hard=True,
    )
    click = {
        "type": "email.clicked",
        "created_at": "2024-11-22T23:45:00.000Z",
        "data": {
            **RESEND_BOUNCE["data"],  # type: ignore[dict-item]
            "click": {"link": "https://decant.test/wines", "timestamp": "2024-11-22T23:44:59Z"},
        },
    }
    body, headers = signed_webhook(RESEND_SECRET, click, msg_id="msg_2")
    [event] = parse_resend(body, headers)
    assert (event.type, event.url, event.hard) == ("click", "https://decant.test/wines", False)
    assert event.occurred_at == datetime(2024, 11, 22, 23, 44, 59, tzinfo=UTC)
    body, headers = signed_webhook(RESEND_SECRET, {"type": "contact.created", "data": {}})
    assert parse_resend(body, headers) == []


# -- SES through SNS ------------------------------------------------------------------

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:decant-ses-events"


@pytest.fixture(scope="module")
def sns_signer() -> tuple[rsa.RSAPrivateKey, bytes]:
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


def sns_sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str) -> dict[str, Any]:
    """Sign as SNS does: "Name\\nValue\\n" over the type's fields, in AWS's documented order."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {
        **message,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
        "SigningCertURL": CERT_URL,
    }


def ses_record(event_type: str, section: str, body: dict[str, Any]) -> str:
    return json.dumps(
        {
            "eventType": event_type,
            "mail": {
                "timestamp": "2024-05-01T10:00:00.000Z",
                "source": "news@decant.test",
                "messageId": "0100018f-ses-id",
                "destination": ["bob@example.test"],
                "tags": {"message_id": ["43"], "ses:configuration-set": ["decant-events"]},
            },
            section: body,
        }
    )


def notification(record: str, **extra: str) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "a1b2c3d4-sns",
        "TopicArn": TOPIC,
        "Message": record,
        "Timestamp": "2024-05-01T10:00:01.000Z",
        **extra,
    }


BOUNCE = ses_record(
    "Bounce",
    "bounce",
    {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "bob@example.test"}],
        "timestamp": "2024-05-01T10:00:02.000Z",
        "feedbackId": "feedback-1",
    },
)


def fetcher(pem: bytes, calls: list[str]) -> Callable[[str], bytes]:
    def fetch(url: str) -> bytes:
        calls.append(url)
        return pem

    return fetch


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_signature_verifies_and_tampering_fails(
    sns_signer: tuple[rsa.RSAPrivateKey, bytes], version: str
) -> None:
    key, pem = sns_signer
    calls: list[str] = []
    fetch = fetcher(pem, calls)
    signed = sns_sign(notification(BOUNCE, Subject="Amazon SES Email Event"), key, version)

    assert verify_sns(signed, fetch)
    assert calls == [CERT_URL]
    assert verify_sns(signed, fetch, topic_arns={TOPIC})
    assert not verify_sns(signed, fetch, topic_arns={TOPIC + "-other"})
    assert not verify_sns({**signed, "Message": BOUNCE.replace("Permanent", "Transient")}, fetch)
    assert not verify_sns({**signed, "Timestamp": "2024-05-01T10:00:09.000Z"}, fetch)
    assert not verify_sns({**signed, "Subject": "other"}, fetch)
    assert not verify_sns({**signed, "Signature": "AAAA" + signed["Signature"][4:]}, fetch)
    assert not verify_sns({**signed, "Signature": "%%%"}, fetch)
    other_version = "2" if version == "1" else "1"
    assert not verify_sns({**signed, "SignatureVersion": other_version}, fetch)
    assert not verify_sns({**signed, "SignatureVersion": "3"}, fetch)


def test_sns_subscription_confirmation_is_signed_over_its_own_fields(
    sns_signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:
    key, pem = sns_signer
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "conf-1",
        "Token": "tok-123",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2024-05-01T10:00:00.000Z",
    }
    signed = sns_sign(message, key, "2")
    assert verify_sns(signed, fetcher(pem, []))
    assert not verify_sns({**signed, "Token": "tok-456"}, fetcher(pem, []))
    assert parse_ses(signed) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.test/cert.pem",
        "https://evil.test/sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",
        "https://s3.amazonaws.com/cert.pem",
    ],
)
def test_sns_refuses_foreign_certificate_urls_without_fetching(
    sns_signer: tuple[rsa.RSAPrivateKey, bytes], url: str
) -> None:
    key, pem = sns_signer
    calls: list[str] = []
    signed = {**sns_sign(notification(BOUNCE), key, "2"), "SigningCertURL": url}
    assert not sns_cert_url_allowed(url)
    assert not verify_sns(signed, fetcher(pem, calls))
    assert calls == []


def test_sns_refuses_a_certificate_that_did_not_sign(
    sns_signer: tuple[rsa.RSAPrivateKey, bytes],
) -> None:
    key, _pem = sns_signer
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signed = sns_sign(notification(BOUNCE), other_key, "2")
    _, pem = sns_signer
    assert not verify_sns(signed, fetcher(pem, []))
    assert not verify_sns(sns_sign(notification(BOUNCE), key, "2"), fetcher(b"not a cert", []))


def test_parse_ses_normalises_event_publishing_records() -> None:
    [bounce] = parse_ses(notification(BOUNCE))
    assert bounce == EmailEvent(
        provider="ses",
        event_id="a1b2c3d4-sns:0",
        type="bounce",
        email="bob@example.test",
        provider_message_id="0100018f-ses-id",
        our_message_id="43",
        occurred_at=datetime(2024, 5, 1, 10, 0, 2, tzinfo=UTC),
        hard=True,
    )
    soft = BOUNCE.replace('"Permanent"', '"Transient"')
    assert parse_ses(notification(soft))[0].hard is False

    click = ses_record(
        "Click", "click", {"link": "https://decant.test/w", "timestamp": "2024-05-01T11:00:00Z"}
    )
    [event] = parse_ses(notification(click))
    assert (event.type, event.url, event.email) == (
        "click",
        "https://decant.test/w",
        "bob@example.test",
    )

    complaint = ses_record(
        "Complaint",
        "complaint",
        {
            "complainedRecipients": [{"emailAddress": "bob@example.test"}],
            "timestamp": "2024-05-01T12:00:00Z",
        },
    )
    assert [e.type for e in parse_ses(notification(complaint))] == ["complaint"]
    delivery = ses_record(
        "Delivery",
        "delivery",
        {"recipients": ["bob@example.test"], "timestamp": "2024-05-01T10:00:03Z"},
    )
    assert [e.type for e in parse_ses(notification(delivery))] == ["delivered"]
    send = ses_record("Send", "send", {})
    [sent] = parse_ses(json.loads(send))  # raw message delivery: the record itself
    assert sent.type == "sent"
    assert sent.occurred_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert parse_ses(notification(ses_record("SomethingNew", "x", {}))) == []
    with pytest.raises(ValueError):
        parse_ses(notification("not json"))
