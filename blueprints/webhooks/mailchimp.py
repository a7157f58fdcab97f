"""Mailchimp audience webhooks: ``/api/sales/marketing/webhooks/mailchimp/<secret>``.

Mailchimp does not sign webhooks, so the URL carries a secret (MailchimpConnection's
``webhook_secret``), compared in constant time. GET answers Mailchimp's URL validation.
POSTs are form-encoded (``type``, ``fired_at``, ``data[email]``, ``data[list_id]``...);
each is recorded once under an id derived from type + fired_at + email + list, then
``webhook_received`` tells the mailchimp channel, which applies it.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import abort, jsonify, request
from sqlalchemy import column, select, table

from app.auth.access import csrf_exempt, public
from app.extensions import db
from blueprints.webhooks.blueprint import bp, receive

PROVIDER = "mailchimp"
EVENTS = frozenset({"subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign"})
# The connection table by name: this package does not import the mailchimp channel.
_connection = table("mailchimp_connection", column("webhook_secret"))


def _secret_ok(secret: str) -> bool:
    stored = db.session.scalars(select(_connection.c.webhook_secret)).all()
    given = secret.encode()
    return any(s and hmac.compare_digest(s.encode(), given) for s in stored)


def event_id(form: dict[str, str]) -> str:
    """Stable id: Mailchimp sends none, and retries the same type/time/email/list."""
    email = form.get("data[email]") or form.get("data[new_email]") or ""
    parts = [
        form.get("type", ""),
        form.get("fired_at", ""),
        email.lower(),
        form.get("data[list_id]", ""),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@bp.route("/mailchimp/<secret>", methods=["GET", "HEAD", "POST"])
@public
@csrf_exempt
def mailchimp(secret: str):
    if not _secret_ok(secret):
        abort(404)
    if request.method != "POST":
        return jsonify({"ok": True})
    form = {k: v for k, v in request.form.items()}
    kind = form.get("type", "")
    if kind not in EVENTS:
        return jsonify({"error": {"code": "bad_request", "message": "unknown event type"}}), 400
    if receive(PROVIDER, event_id(form), kind, form).duplicate:
        return jsonify({"ok": True, "duplicate": True})
    return jsonify({"ok": True})
