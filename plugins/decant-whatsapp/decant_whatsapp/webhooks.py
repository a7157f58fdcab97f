"""Twilio's WhatsApp webhooks: inbound messages and status callbacks, signed like SMS.

Each request must carry a valid ``X-Twilio-Signature`` (Twilio's RequestValidator over
PUBLIC_BASE_URL + path and the form); then the core's intake records it once and applies
it (:func:`app.webhooks.receive`), which calls :func:`services.on_webhook`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from app.auth.access import csrf_exempt, public
from app.errors import Forbidden, Invalid
from app.webhooks import public_url, receive
from providers.sms.twilio import SIGNATURE_HEADER, verify_twilio_signature

bp = Blueprint("whatsapp_webhooks", __name__, url_prefix="/api/sales/marketing/webhooks/whatsapp")
PROVIDER = "whatsapp"


def _verified_form() -> dict[str, Any]:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise Forbidden("WhatsApp webhooks need TWILIO_AUTH_TOKEN to verify", code="forbidden")
    signature = request.headers.get(SIGNATURE_HEADER)
    if not verify_twilio_signature(token, public_url(), request.form, signature):
        raise Forbidden("Missing or invalid X-Twilio-Signature", code="forbidden")
    data = {key: request.form.get(key) for key in request.form}
    if not data.get("MessageSid"):
        raise Invalid("MessageSid is required", {"MessageSid": "required"})
    return data


@bp.post("")
@public
@csrf_exempt
def inbound():
    """An incoming WhatsApp message: stored once, filed, answered in TwiML."""
    data = _verified_form()
    applied = receive(PROVIDER, data["MessageSid"], "inbound", data)
    reply = next((a.get("twiml_reply") for a in applied.answers if isinstance(a, dict)), None)
    doc = MessagingResponse()
    if reply:
        doc.message(reply)
    return Response(str(doc), mimetype="application/xml")


@bp.post("/status")
@public
@csrf_exempt
def status():
    """A delivery receipt (sent, delivered, read, failed with 63016...)."""
    data = _verified_form()
    receive(PROVIDER, f"{data['MessageSid']}:{data.get('MessageStatus') or ''}", "status", data)
    return Response(status=204)
