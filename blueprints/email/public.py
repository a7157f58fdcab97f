"""Public email routes: open pixel, click redirect, one-click unsubscribe, preferences.

No login and no CSRF: each URL carries a signed token naming its message, which is what
authorises the request (and a foreign or edited token is a 404).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from app.auth.access import csrf_exempt, public
from app.crm.models import CommunicationPreference
from app.extensions import db
from blueprints.email import events, sending, tracking
from blueprints.email.models import EmailMessage

bp = Blueprint("email_public", __name__, url_prefix="/email", template_folder="templates")


def _message(purpose: str, token: str) -> tuple[EmailMessage, object]:
    message, payload = tracking.message_from_token(purpose, token)
    if message is None:
        abort(404)
    return message, payload


@bp.get("/t/o/<token>.gif")
@public
def open_pixel(token: str):
    message, _ = tracking.message_from_token("open", token)
    if message is not None:
        tracking.record_engagement(message, "open")
    return (
        tracking.PIXEL_GIF,
        200,
        {
            "Content-Type": "image/gif",
            "Cache-Control": "no-store, max-age=0",
        },
    )


@bp.get("/t/c/<token>")
@public
def click(token: str):
    message, payload = _message("click", token)
    url = payload[1] if isinstance(payload, list) and len(payload) == 2 else None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        abort(404)
    tracking.record_engagement(message, "click", url=url)
    return redirect(url, 302)


@bp.get("/t/c/<token>/<int:number>")
@public
def campaign_click(token: str, number: int):
    """A campaign message's link ``number``, under the message's tracking token."""
    message, _ = _message("open", token)
    url = sending.campaign_link(message, number)
    if url is None or not url.lower().startswith(("http://", "https://")):
        abort(404)
    tracking.record_engagement(message, "click", url=url)
    return redirect(url, 302)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
def unsubscribe(token: str):
    """GET asks to confirm (link scanners fetch GETs); POST (one-click or the button) acts."""
    message, _ = _message("unsubscribe", token)
    if request.method == "POST":
        events.unsubscribe(message)
        return render_template(
            "email/unsubscribed.html",
            message=message,
            preferences_url=tracking.preferences_url(message.id),
        )
    return render_template("email/unsubscribe.html", message=message, token=token)


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
def preferences(token: str):
    message, _ = _message("preferences", token)
    if request.method == "POST":
        if request.form.get("action") == "subscribe":
            events.resubscribe(message)
        elif request.form.get("action") == "unsubscribe":
            events.unsubscribe(message, source="preferences")
    pref = None
    if message.customer_id is not None:
        pref = db.session.scalar(
            db.select(CommunicationPreference).where(
                CommunicationPreference.customer_id == message.customer_id
            )
        )
    from app.messaging.consent import is_suppressed

    subscribed = not is_suppressed("email", message.to_address) and (
        pref is None or pref.email_status != "opted_out"
    )
    return render_template(
        "email/preferences.html", message=message, token=token, subscribed=subscribed
    )
