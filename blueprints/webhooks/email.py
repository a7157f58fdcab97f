"""Email provider event webhooks: SendGrid (ECDSA), Resend (Svix), SES (SNS signature).

Each verifies first (403 and nothing written otherwise), then stores every event once per
provider event id and signals the channels; the email channel applies them. Replays are
bounded in time where the provider signs a time: SendGrid's signed timestamp must be
within SENDGRID_WEBHOOK_TOLERANCE seconds (300, like Svix's window for Resend); SES
messages are accepted only from the topics in SES_TOPIC_ARN (none configured: none).
"""

from __future__ import annotations

import json
import urllib.request
from functools import lru_cache
from typing import Any

from flask import current_app, jsonify, request

from app.api.errors import ApiError
from app.auth.access import csrf_exempt, public
from app.webhooks.intake import receive_batch
from blueprints.webhooks.blueprint import bp
from providers.email import events as ev


def _forbidden(why: str) -> ApiError:
    return ApiError(403, "forbidden", why)


def _store(events: list[ev.EmailEvent]) -> Any:
    """Store and apply the POST's events at once (:func:`app.webhooks.intake.receive_batch`)."""
    batch = []
    for event in events:
        payload = {
            "provider": event.provider,
            "type": event.type,
            "email": event.email,
            "providerMessageId": event.provider_message_id,
            "ourMessageId": event.our_message_id,
            "occurredAt": event.occurred_at.isoformat(),
            "url": event.url,
            "hard": event.hard,
            "machine": event.machine,
            "userAgent": event.user_agent,
            "ip": event.ip,
        }
        batch.append((event.event_id, f"email.{event.type}", payload))
    provider = events[0].provider if events else "email"
    applied = receive_batch(provider, batch)
    return jsonify({"received": len(events), "new": applied.new})


@bp.post("/sendgrid")
@public
@csrf_exempt
def sendgrid_events():
    key = current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY")
    if not key:
        raise _forbidden("SendGrid webhook verification key is not configured")
    body = request.get_data()
    ok = ev.verify_sendgrid(
        key,
        body,
        request.headers.get(ev.SENDGRID_SIGNATURE_HEADER, ""),
        request.headers.get(ev.SENDGRID_TIMESTAMP_HEADER, ""),
        tolerance=float(current_app.config.get("SENDGRID_WEBHOOK_TOLERANCE") or 300),
    )
    if not ok:
        raise _forbidden("bad signature, or a signed timestamp outside the tolerance")
    try:
        events = ev.parse_sendgrid(body)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return _store(events)


@bp.post("/resend")
@public
@csrf_exempt
def resend_events():
    secret = current_app.config.get("RESEND_WEBHOOK_SECRET")
    if not secret:
        raise _forbidden("Resend webhook secret is not configured")
    body = request.get_data()
    headers = dict(request.headers.items())
    if not ev.verify_resend(secret, body, headers):
        raise _forbidden("bad signature")
    try:
        events = ev.parse_resend(body, headers)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return _store(events)


@lru_cache(maxsize=16)
def fetch_cert(url: str) -> bytes:
    """The SNS signing certificate (only ever called for an allowed SNS https URL)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - checked URL
        return response.read()


def confirm_subscription(url: str) -> None:
    """Visit SubscribeURL (verified message; https SNS host only)."""
    if not ev.sns_cert_url_allowed(url.split("?", 1)[0] + ".pem"):
        raise _forbidden("SubscribeURL is not an SNS URL")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - checked URL
        response.read()


@bp.post("/ses")
@public
@csrf_exempt
def ses_events():
    try:
        message = json.loads(request.get_data() or b"")
    except ValueError as exc:
        raise _forbidden("not an SNS message") from exc
    if not isinstance(message, dict):
        raise _forbidden("not an SNS message")
    topics = [t.strip() for t in (current_app.config.get("SES_TOPIC_ARN") or "").split(",")]
    topics = [t for t in topics if t]
    if not topics:  # without it any AWS account's topic could post here
        raise _forbidden("SES webhook topic (SES_TOPIC_ARN) is not configured")
    if not ev.verify_sns(message, fetch_cert, topic_arns=topics):
        raise _forbidden("bad signature or unexpected topic")
    if message.get("Type") == "SubscriptionConfirmation":
        confirm_subscription(str(message.get("SubscribeURL") or ""))
        return jsonify({"confirmed": True})
    try:
        events = ev.parse_ses(message)
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return _store(events)
