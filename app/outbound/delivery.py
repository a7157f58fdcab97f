"""One attempt of one delivery: sign per Standard Webhooks, POST, log, schedule the next.

The body is the payload as compact JSON; ``webhook-id`` is the delivery's public id (the
same on every attempt), ``webhook-timestamp`` the time of this attempt, and
``webhook-signature`` comes from the ``standardwebhooks`` library with the endpoint's
``whsec_`` secret. A 2xx answer is success; anything else, a timeout or a refused
redirect is a failure retried after RETRY_DELAYS for at most OUTBOUND_WEBHOOK_RETRY_HOURS.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit

import requests
from flask import current_app
from sqlalchemy import update
from standardwebhooks import Webhook

from app.crypto import decrypt
from app.current import app_object
from app.extensions import db
from app.outbound.addresses import PublicOnlyAdapter, private_allowed
from app.outbound.dispatch import enqueue
from app.outbound.models import OutboundAttempt, OutboundDelivery, OutboundEndpoint

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

#: Seconds after each failed attempt (the last value repeats), capped by the retry window.
RETRY_DELAYS: tuple[int, ...] = (5, 30, 120, 600, 3600, 6 * 3600, 12 * 3600)
MAX_REDIRECTS = 3
USER_AGENT = "Decant-Webhooks/1.0"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
    """POST, following redirects only on the same scheme, host and port (307/308 keep the
    method; anything else is answered as is and counts as a failure)."""
    session = requests.Session()
    if not private_allowed():  # checked on the connected socket: DNS rebinding too
        session.mount("http://", PublicOnlyAdapter())
        session.mount("https://", PublicOnlyAdapter())
    try:
        for _ in range(MAX_REDIRECTS + 1):
            response = session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            )
            location = response.headers.get("location")
            if response.status_code not in (307, 308) or not location:
                return response
            target = urljoin(url, location)
            if not _same_origin(url, target):
                raise requests.exceptions.InvalidURL(f"redirect to another host refused: {target}")
            url = target
        return response
    finally:
        session.close()


def _claim(delivery_id: int, attempt: int, now: datetime) -> bool:
    result = db.session.execute(
        update(OutboundDelivery)
        .where(
            OutboundDelivery.id == delivery_id,
            OutboundDelivery.status == "pending",
            OutboundDelivery.attempts == attempt,
        )
        .values(status="sending", attempts=attempt + 1, last_attempt_at=now)
    )
    claimed: int = cast("CursorResult[Any]", result).rowcount
    db.session.commit()
    return claimed == 1


def deliver(delivery_id: int, attempt: int, trigger: str = "auto") -> str | None:
    """The job: one attempt if the delivery still waits for attempt number ``attempt``."""
    config = current_app.config
    now = datetime.now(UTC)
    delivery = db.session.get(OutboundDelivery, delivery_id)
    if delivery is None or delivery.status != "pending" or delivery.attempts != attempt:
        return None
    endpoint = delivery.endpoint
    if not endpoint.active:
        delivery.status = "failed"
        delivery.last_error = "endpoint disabled"
        delivery.next_attempt_at = None
        db.session.commit()
        return "failed"
    if not _claim(delivery_id, attempt, now):
        return None
    delivery = db.session.get_one(OutboundDelivery, delivery_id)
    endpoint = db.session.get_one(OutboundEndpoint, delivery.endpoint_id)
    body = body_of(delivery.payload)
    status_code: int | None = None
    error: str | None = None
    started = time.monotonic()
    try:
        headers = signed_headers(decrypt(endpoint.secret), delivery.public_id, now, body)
        response = post(endpoint.url, body, headers, float(config["OUTBOUND_WEBHOOK_TIMEOUT"]))
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:200]}"
    except Exception as exc:  # refused, timed out, bad URL or secret: a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:500]
    elapsed = int((time.monotonic() - started) * 1000)
    db.session.add(
        OutboundAttempt(
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=status_code,
            response_ms=elapsed,
            error=error,
            trigger=trigger,
        )
    )
    delivery.last_status_code = status_code
    delivery.last_error = error
    if error is None:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        db.session.commit()
        return "succeeded"
    endpoint.failing_since = endpoint.failing_since or now
    window = timedelta(hours=float(config["OUTBOUND_WEBHOOK_RETRY_HOURS"]))
    if now - endpoint.failing_since >= timedelta(
        hours=float(config["OUTBOUND_WEBHOOK_DISABLE_HOURS"])
    ):
        endpoint.active = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"failed for {config['OUTBOUND_WEBHOOK_DISABLE_HOURS']} hours without a success; "
            f"last error: {error}"
        )[:500]
        from app.outbound.events import forget_subscriptions

        forget_subscriptions(app_object())
    delay = RETRY_DELAYS[min(delivery.attempts - 1, len(RETRY_DELAYS) - 1)]
    next_at = min(now + timedelta(seconds=delay), delivery.created_at + window)
    if not endpoint.active or next_at <= now:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        db.session.commit()
        return "failed"
    delivery.status = "pending"
    delivery.next_attempt_at = next_at
    db.session.commit()
    enqueue(delivery.id, delivery.attempts, at=next_at)
    return "pending"
