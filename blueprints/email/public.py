"""Public email routes: open pixel, click redirect, one-click unsubscribe, preferences.

No login and no CSRF: each URL carries a signed token naming its message, which is what
authorises the request (and a foreign or edited token is a 404).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request

from app.api.limits import body_limit
from app.auth.access import csrf_exempt, public
from app.brand import public_page
from app.messaging import consent, topics
from blueprints.email import events, fast_path, links, resubscribe, tracking
from blueprints.email.models import EmailMessage

#: A one-click unsubscribe body is ``List-Unsubscribe=One-Click``; nothing larger is read.
UNSUBSCRIBE_MAX_BODY = 4096

bp = Blueprint("email_public", __name__, url_prefix="/email", template_folder="templates")


def _message(purpose: str, token: str) -> tuple[EmailMessage, object]:
    message, payload = tracking.message_from_token(purpose, token)
    if message is None:
        abort(404)
    return message, payload


@bp.get("/t/o/<token>.gif")
@public
def open_pixel(token: str):
    message_id, _ = tracking.message_id_from_token("open", token)
    if message_id is not None:  # nothing loaded (the hot path): one statement, if it can
        verdict = tracking.request_verdict("open", None)
        if not fast_path.record_open(message_id, verdict):
            tracking.record_engagement(message_id, "open", verdict=verdict, durable=False)
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
    verdict = tracking.request_verdict("click", message, url)
    tracking.record_engagement(message, "click", url=url, verdict=verdict, durable=False)
    return redirect(url, 302)


@bp.get("/t/c/<token>/<int:number>")
@public
def campaign_click(token: str, number: int):
    """A message's link ``number``, under the message's tracking token. Nothing is loaded
    but the message's locked counters and, in the same query, the link (the hot path
    after a send)."""
    message_id, _ = tracking.message_id_from_token("open", token)
    if message_id is None:
        abort(404)
    counted = fast_path.record_click(message_id, number)
    if counted is not None:
        return redirect(counted, 302)
    locked = tracking.lock_for_click(message_id, number)
    if locked is None:
        abort(404)
    url = locked.values["link_url"] or links.resolve_by_id(  # else a legacy campaign's
        locked.message_id, locked.values["campaign_id"], number
    )
    if url is None or not url.lower().startswith(("http://", "https://")):
        abort(404)
    verdict = tracking.click_verdict(locked, url)
    tracking.record_engagement(
        locked.message_id, "click", url=url, verdict=verdict, locked=locked, durable=False
    )
    return redirect(url, 302)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
@body_limit(UNSUBSCRIBE_MAX_BODY)
def unsubscribe(token: str):
    """GET asks to confirm (link scanners fetch GETs); POST (one-click or the button) acts."""
    message, _ = _message("unsubscribe", token)
    if request.method == "POST":
        events.unsubscribe(message)
        return public_page(
            "email/unsubscribed.html",
            message=message,
            preferences_url=tracking.preferences_url(message.id),
        )
    return public_page(
        "email/unsubscribe.html",
        message=message,
        token=token,
        preferences_url=tracking.preferences_url(message.id),
    )


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
def preferences(token: str):
    """Leave (at once), ask to come back (by a confirmation emailed to the address), or
    keep some topics and leave others (the address stays subscribed to the rest)."""
    message, _ = _message("preferences", token)
    outcome = None
    every_topic = topics.all_topics()
    if request.method == "POST":
        if request.form.get("action") == "subscribe":
            outcome = resubscribe.request(message)
        elif request.form.get("action") == "unsubscribe":
            events.unsubscribe(message, source="preferences")
            outcome = "unsubscribed"
        elif request.form.get("action") == "topics":
            chosen = set(request.form.getlist("topic"))
            topics.set_preferences(
                message.to_address, [t.id for t in every_topic if t.public_id in chosen]
            )
            outcome = "topics_saved"
    subscribed = not consent.is_suppressed("email", message.to_address) and (
        consent.status_of("email", message.to_address) != consent.OPTED_OUT
    )
    return public_page(
        "email/preferences.html",
        message=message,
        token=token,
        subscribed=subscribed,
        outcome=outcome,
        topics=every_topic,
        left=topics.left_topics(message.to_address),
    )


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public
@csrf_exempt
def confirm_resubscribe(token: str):
    """The double opt-in link: GET shows a button (scanners fetch GETs), POST acts."""
    message = resubscribe.message_from_confirm_token(token)
    if message is None:
        abort(404)
    result = resubscribe.confirm(message) if request.method == "POST" else None
    return public_page("email/confirm.html", token=token, result=result)
