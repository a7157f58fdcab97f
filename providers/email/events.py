"""Email provider webhooks: signature checks and events in one normalised shape.

``verify_*`` return ``False`` for anything forged, tampered, malformed or unsigned and
raise ``ValueError`` only for our own misconfiguration (an unusable key or secret).
``parse_*`` raise ``ValueError`` for a payload that is not the provider's JSON, skip
event kinds we do not track, and give one :class:`EmailEvent` per recipient.

Normalised types: delivered, bounce, complaint, open, click, unsubscribe, dropped,
deferred, sent. ``our_message_id`` is the :data:`MESSAGE_ID_KEY` metadata sent with the
message (SendGrid custom_args, Resend tags, SES tags). ``provider_message_id`` is the id
the send returned: for SendGrid the ``X-Message-Id`` part of ``sg_message_id``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sendgrid.helpers.eventwebhook import EventWebhook
from svix.webhooks import Webhook, WebhookVerificationError

from providers.email.base import MESSAGE_ID_KEY

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


@dataclass(frozen=True)
class EmailEvent:
    """One thing that happened to one sent message, for one recipient."""

    provider: str
    event_id: str  # unique per provider, for deduplication
    type: str
    email: str | None
    provider_message_id: str | None
    our_message_id: str | None
    occurred_at: datetime  # UTC, aware
    url: str | None = None  # the link of a click
    hard: bool = False  # a permanent bounce
    #: the provider knows a machine made this open (SendGrid's ``sg_machine_open``)
    machine: bool = False
    user_agent: str | None = None  # of an open or click, where the provider passes it on
    ip: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)


# -- SendGrid -------------------------------------------------------------------------

_SENDGRID_TYPES = {
    "processed": "sent",
    "dropped": "dropped",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounce",
    "open": "open",
    "click": "click",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


def verify_sendgrid(
    public_key: str,
    payload: bytes,
    signature: str,
    timestamp: str,
    *,
    tolerance: float | None = None,
    now: datetime | None = None,
) -> bool:
    """ECDSA P-256/SHA-256 signature of ``timestamp + payload`` (SendGrid Event Webhook).

    ``public_key`` is the verification key from SendGrid's settings (base64 DER, PEM
    also taken). ``tolerance`` (seconds), when given, also refuses stale timestamps.
    """
    body = "".join(public_key.strip().splitlines())
    body = re.sub(r"-----(BEGIN|END) PUBLIC KEY-----", "", body)
    try:
        verifier = EventWebhook(body)
    except ValueError as exc:
        raise ValueError("the SendGrid verification key is not a valid public key") from exc
    if not signature or not timestamp:
        return False
    if tolerance is not None:
        try:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            return False
        if abs(((now or datetime.now(UTC)) - sent).total_seconds()) > tolerance:
            return False
    try:
        return bool(verifier.verify_signature(payload.decode("utf-8"), signature, timestamp))
    except (ValueError, binascii.Error):  # body not UTF-8, signature not base64
        return False


def parse_sendgrid(payload: bytes) -> list[EmailEvent]:
    """Events of a SendGrid Event Webhook POST (a JSON array)."""
    events = _json(payload)
    if not isinstance(events, list):
        raise ValueError("a SendGrid event webhook body is a JSON array")
    out: list[EmailEvent] = []
    for event in events:
        if not isinstance(event, dict):
            raise ValueError("a SendGrid event is a JSON object")
        kind = _SENDGRID_TYPES.get(str(event.get("event")))
        if kind is None:
            continue
        sg_message_id = event.get("sg_message_id")
        provider_id = str(sg_message_id).split(".", 1)[0] if sg_message_id else None
        event_id = event.get("sg_event_id") or (
            f"{sg_message_id}:{event.get('event')}:{event.get('timestamp')}:{event.get('email')}"
        )
        out.append(
            EmailEvent(
                provider="sendgrid",
                event_id=str(event_id),
                type=kind,
                email=_str_or_none(event.get("email")),
                provider_message_id=provider_id,
                our_message_id=_str_or_none(event.get(MESSAGE_ID_KEY)),
                occurred_at=_epoch(event.get("timestamp")),
                url=_str_or_none(event.get("url")) if kind == "click" else None,
                # "blocked" is SendGrid's temporary kind of bounce.
                hard=kind == "bounce" and event.get("type", "bounce") != "blocked",
                machine=kind == "open" and event.get("sg_machine_open") is True,
                user_agent=_str_or_none(event.get("useragent")),
                ip=_str_or_none(event.get("ip")),
                raw=event,
            )
        )
    return out


# -- Resend (Svix) --------------------------------------------------------------------

_RESEND_TYPES = {
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.delivery_delayed": "deferred",
    "email.bounced": "bounce",
    "email.complained": "complaint",
    "email.opened": "open",
    "email.clicked": "click",
    "email.failed": "dropped",
    "email.suppressed": "dropped",
}


def verify_resend(secret: str, payload: bytes, headers: Mapping[str, str]) -> bool:
    """Svix signature (svix-id, svix-timestamp, svix-signature; 5-minute tolerance)."""
    if not secret.removeprefix("whsec_"):
        raise ValueError("the Resend webhook secret is empty")
    try:
        webhook = Webhook(secret)
    except (ValueError, RuntimeError) as exc:  # not base64
        raise ValueError("the Resend webhook secret is not a valid whsec_ secret") from exc
    try:
        webhook.verify(payload, {str(k): str(v) for k, v in headers.items()})
    except (WebhookVerificationError, ValueError):  # also bad base64, non-UTF-8 body
        return False
    return True


def parse_resend(payload: bytes, headers: Mapping[str, str]) -> list[EmailEvent]:
    """Events of one Resend webhook delivery; ids are ``<svix-id>:<recipient index>``."""
    doc = _json(payload)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise ValueError("a Resend webhook body is a JSON object with data")
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    delivery_id = lowered.get("svix-id") or lowered.get("webhook-id")
    if not delivery_id:
        raise ValueError("a Resend webhook needs its svix-id header")
    kind = _RESEND_TYPES.get(str(doc.get("type")))
    if kind is None:
        return []
    data = doc["data"]
    tags = data.get("tags")
    if isinstance(tags, list):  # older payloads: [{"name", "value"}]
        tags = {t.get("name"): t.get("value") for t in tags if isinstance(t, dict)}
    ours = tags.get(MESSAGE_ID_KEY) if isinstance(tags, dict) else None
    click = data.get("click") if isinstance(data.get("click"), dict) else {}
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    when = _iso(click.get("timestamp") or doc.get("created_at") or data.get("created_at"))
    recipients = data.get("to") or [None]
    if isinstance(recipients, str):
        recipients = [recipients]
    return [
        EmailEvent(
            provider="resend",
            event_id=f"{delivery_id}:{index}",
            type=kind,
            email=_str_or_none(recipient),
            provider_message_id=_str_or_none(data.get("email_id")),
            our_message_id=_str_or_none(ours),
            occurred_at=when,
            url=_str_or_none(click.get("link")) if kind == "click" else None,
            hard=kind == "bounce" and bounce.get("type") == "Permanent",
            raw=doc,
        )
        for index, recipient in enumerate(recipients)
    ]


# -- Amazon SES through SNS -----------------------------------------------------------

_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_FIELDS["UnsubscribeConfirmation"] = _SNS_FIELDS["SubscriptionConfirmation"]
_SNS_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1": hashes.SHA1,
    "2": hashes.SHA256,
}
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")

_SES_TYPES = {
    "Bounce": ("bounce", "bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complaint", "complainedRecipients"),
    "Delivery": ("delivered", "delivery", "recipients"),
    "Send": ("sent", "send", None),
    "Reject": ("dropped", "reject", None),
    "Rendering Failure": ("dropped", "failure", None),
    "DeliveryDelay": ("deferred", "deliveryDelay", "delayedRecipients"),
    "Open": ("open", "open", None),
    "Click": ("click", "click", None),
    "Subscription": ("unsubscribe", "subscription", None),
}


def sns_cert_url_allowed(url: str) -> bool:
    """An https URL of a ``.pem`` on ``sns.<region>.amazonaws.com`` (or ``.com.cn``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and not parts.username
        and not parts.password
        and port in (None, 443)
        and bool(parts.hostname and _SNS_HOST.fullmatch(parts.hostname))
        and parts.path.endswith(".pem")
    )


def verify_sns(
    message: Mapping[str, Any],
    fetch_cert: Callable[[str], bytes],
    *,
    topic_arns: Collection[str] | None = None,
    now: datetime | None = None,
) -> bool:
    """SNS message signature, version 1 (SHA1withRSA) or 2 (SHA256withRSA).

    The string signed is ``name\\nvalue\\n`` for each field of the message type's list,
    in order, skipping a missing Subject. ``fetch_cert`` gets the PEM certificate at
    ``SigningCertURL``, called only for an allowed URL (cache it: it rarely changes);
    its errors propagate, so the caller can answer 5xx and SNS retries. ``topic_arns``,
    when given, lists the only topics accepted.
    """
    kind = message.get("Type")
    fields = _SNS_FIELDS.get(str(kind))
    digest = _SNS_HASHES.get(str(message.get("SignatureVersion")))
    url = message.get("SigningCertURL")
    if fields is None or digest is None or not isinstance(url, str):
        return False
    if not sns_cert_url_allowed(url):
        return False
    if topic_arns is not None and message.get("TopicArn") not in topic_arns:
        return False
    lines: list[str] = []
    for name in fields:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue
            return False
        lines.append(f"{name}\n{value}\n")
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        cert = x509.load_pem_x509_certificate(fetch_cert(url))
    except ValueError:
        return False
    moment = now or datetime.now(UTC)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        return False
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, "".join(lines).encode("utf-8"), padding.PKCS1v15(), digest())
    except InvalidSignature:
        return False
    return True


def parse_ses(message: Mapping[str, Any]) -> list[EmailEvent]:
    """Events of an SES event-publishing record, given the SNS envelope (whose
    ``Message`` holds the record) or the record itself (raw delivery). Subscription
    confirmations give no events."""
    if "Type" in message:
        if message.get("Type") != "Notification":
            return []
        record = _json(message.get("Message") or "")
        envelope_id = _str_or_none(message.get("MessageId"))
    else:
        record, envelope_id = message, None
    if not isinstance(record, dict) or not isinstance(record.get("mail"), dict):
        raise ValueError("an SES event record is a JSON object with mail")
    name = record.get("eventType") or record.get("notificationType")
    spec = _SES_TYPES.get(str(name))
    if spec is None:
        return []
    kind, section_name, recipients_key = spec
    mail = record["mail"]
    found = record.get(section_name)
    section: dict[str, Any] = found if isinstance(found, dict) else {}
    if recipients_key:
        recipients = [_recipient(r) for r in section.get(recipients_key) or []]
    else:
        recipients = [str(d) for d in mail.get("destination") or []]
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    ours = tags.get(MESSAGE_ID_KEY)
    if isinstance(ours, list):
        ours = ours[0] if ours else None
    when = _iso(section.get("timestamp") or mail.get("timestamp"))
    base_id = envelope_id or f"{mail.get('messageId')}:{name}:{when.isoformat()}"
    return [
        EmailEvent(
            provider="ses",
            event_id=f"{base_id}:{index}",
            type=kind,
            email=recipient,
            provider_message_id=_str_or_none(mail.get("messageId")),
            our_message_id=_str_or_none(ours),
            occurred_at=when,
            url=_str_or_none(section.get("link")) if kind == "click" else None,
            hard=kind == "bounce" and section.get("bounceType") == "Permanent",
            raw=record,
        )
        for index, recipient in enumerate(recipients or [None])
    ]


# -- helpers --------------------------------------------------------------------------


def _json(payload: bytes | str) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _recipient(entry: Any) -> str | None:
    if isinstance(entry, dict):
        return _str_or_none(entry.get("emailAddress"))
    return _str_or_none(entry)


def _epoch(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"bad event timestamp {value!r}") from exc


def _iso(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError(f"bad event time {value!r}")
    text = value.strip().replace(" ", "T", 1)
    if re.search(r"[+-]\d\d$", text):  # "+00" -> "+00:00"
        text += ":00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"bad event time {value!r}") from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
