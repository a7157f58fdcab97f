"""Twilio webhooks: inbound texts and message status callbacks.

Every request must carry a valid ``X-Twilio-Signature`` for the public URL Twilio called
(PUBLIC_BASE_URL + path + query, so it verifies behind a proxy); without TWILIO_AUTH_TOKEN
nothing is accepted. A repeated MessageSid (or sid + status) is answered and ignored.

Replays: Twilio signs no timestamp (HMAC-SHA1 over URL + parameters only), so unlike
SendGrid and Resend no age can be enforced without refusing Twilio's own retries, which
reuse the request. What bounds a replay is the event id: a captured request can only
repeat a MessageSid (or sid + status) already recorded, and those rows are kept (never
pruned), so a replay has no effect; one that failed is pending and a replay is simply
the retry. A failure answers 503; Twilio retries a webhook only as its URL's connection
overrides say (``#rc=`` retry count, ``rp=`` retry policy), so the sweep is what makes
sure the event is applied.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from app.api.errors import ApiError
from app.auth.access import csrf_exempt, public
from app.webhooks.intake import public_url
from blueprints.webhooks.blueprint import bp, receive
from providers.sms.twilio import SIGNATURE_HEADER, verify_twilio_signature


def _verified_form() -> dict[str, Any]:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise ApiError(403, "forbidden", "Twilio webhooks need TWILIO_AUTH_TOKEN to verify")
    form = request.form
    signature = request.headers.get(SIGNATURE_HEADER)
    if not verify_twilio_signature(token, public_url(), form, signature):
        raise ApiError(403, "forbidden", "Missing or invalid X-Twilio-Signature")
    return {key: form.get(key) for key in form}


def twiml(reply: str | None) -> Response:
    doc = MessagingResponse()
    if reply:
        doc.message(reply)
    return Response(str(doc), mimetype="application/xml")


@bp.post("/twilio")
@public
@csrf_exempt
def twilio_inbound():
    """An incoming text: stored once, filed by the SMS channel, answered in TwiML."""
    data = _verified_form()
    sid = data.get("MessageSid") or data.get("SmsSid")
    if not sid:
        raise ApiError(400, "bad_request", "MessageSid is required")
    applied = receive("twilio", sid, "inbound", data)
    answers = applied.answers
    reply = next((a.get("twiml_reply") for a in answers if isinstance(a, dict)), None)
    return twiml(reply)


@bp.post("/twilio/status")
@public
@csrf_exempt
def twilio_status():
    """A delivery receipt (queued, sent, delivered, undelivered, failed...)."""
    data = _verified_form()
    sid = data.get("MessageSid") or data.get("SmsSid")
    status = data.get("MessageStatus") or data.get("SmsStatus") or ""
    if not sid:
        raise ApiError(400, "bad_request", "MessageSid is required")
    receive("twilio", f"{sid}:{status}", "status", data)
    return Response(status=204)
