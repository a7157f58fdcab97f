"""A local stand-in for Resend's email API, spoken to over real HTTP.

``FakeResend`` answers ``POST /emails`` (``{"id"}``) and ``POST /emails/batch``
(``{"data": [{"id"}]}``, at most 100, strict or ``x-batch-validation: permissive`` with
``errors: [{index, message}]``), always as ``application/json``; errors are
``{"statusCode", "message", "name"}``. ``Idempotency-Key`` is honoured: the same key
with the same payload replays the first answer without recording again, another payload
gets 409. A request from a domain made unverified (``unverify``) is refused as a whole,
as Resend does: 403 ``validation_error`` "The <domain> domain is not verified...". A
wrong key is 403 ``invalid_api_key``, a missing one 401. It also signs webhooks as
Resend does (Svix).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from svix.webhooks import Webhook
from werkzeug.wrappers import Request, Response

from tests.fakes.sendgrid import Failure, ScriptedHTTPFake

DEFAULT_API_KEY = "re_fake_0123456789"
MAX_BATCH = 100
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_ADDR = re.compile(r"^(?:.*<(?P<inner>[^<>]+)>|(?P<plain>[^<>]+))$")

_ERRORS = {
    401: ("missing_api_key", "Missing API key in the authorization header"),
    403: ("invalid_api_key", "API key is invalid"),
    409: ("invalid_idempotent_request", "Same idempotency key used with a different payload."),
    429: ("rate_limit_exceeded", "Too many requests. You can only make 5 requests per second."),
    500: ("application_error", "An unexpected error occurred."),
    503: ("application_error", "Service unavailable."),
}


@dataclass
class ResendMail:
    """One email Resend accepted."""

    id: str
    to: list[str]
    from_: str
    subject: str
    html: str | None
    text: str | None
    headers: dict[str, str]
    tags: dict[str, str]
    reply_to: Any
    raw: dict[str, Any] = field(default_factory=dict)


def error_body(status: int, name: str | None = None, message: str | None = None) -> dict:
    default_name, default_message = _ERRORS.get(status, ("application_error", "Error"))
    return {
        "statusCode": status,
        "name": name or default_name,
        "message": message or default_message,
    }


def _address(value: str) -> str:
    match = _ADDR.match(value.strip())
    return (match["inner"] or match["plain"] or "").strip() if match else ""


class FakeResend(ScriptedHTTPFake):
    """Resend on 127.0.0.1; ``.received`` holds accepted emails (one per send or batch
    item). ``fail_next(status=422)`` refuses the next request as an invalid ``to``,
    ``fail_next(status=400, kind="invalid_key")`` as a 400 for an invalid API key."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.received: list[ResendMail] = []
        self.idempotency: dict[str, tuple[str, int, Any]] = {}
        self.request_headers: list[dict[str, str]] = []
        self.unverified_domains: set[str] = set()

    def unverify(self, domain: str) -> None:
        """Refuse every request sending from ``domain`` (not verified in the account)."""
        with self._lock:
            self.unverified_domains.add(domain.lower())

    def __enter__(self) -> FakeResend:
        self.start()
        return self

    # -- HTTP ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.request_headers.append(dict(request.headers))
        if request.method != "POST" or request.path not in ("/emails", "/emails/batch"):
            return self.json_response(404, error_body(404, "not_found", "Not found"))
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth == "Bearer " or auth == "Bearer None":
            return self.json_response(401, error_body(401))
        if auth != f"Bearer {self.api_key}":
            return self.json_response(403, error_body(403))
        failure = self.run_script(self._scripted())
        if failure is not None:
            return self._failure(failure)
        raw = request.get_data()
        key = request.headers.get("Idempotency-Key")
        digest = hashlib.sha256(request.path.encode() + b"\0" + raw).hexdigest()
        if key:
            with self._lock:
                seen = self.idempotency.get(key)
            if seen is not None:
                if seen[0] != digest:
                    return self.json_response(409, error_body(409))
                return self.json_response(seen[1], seen[2])
        try:
            payload = json.loads(raw)
        except ValueError:
            return self.json_response(422, error_body(422, "validation_error", "Invalid JSON"))
        domain_problem = self._unverified_domain(payload)
        if domain_problem:
            return self.json_response(403, error_body(403, "validation_error", domain_problem))
        if request.path == "/emails":
            status, doc = self._send_one(payload)
        else:
            permissive = request.headers.get("x-batch-validation") == "permissive"
            status, doc = self._send_batch(payload, permissive)
        if key and status < 500:
            with self._lock:
                self.idempotency[key] = (digest, status, doc)
        return self.json_response(status, doc)

    def _failure(self, failure: Failure) -> Response:
        headers = dict(failure.headers)
        if failure.status == 429:
            headers.setdefault("ratelimit-limit", "5")
            headers.setdefault("ratelimit-remaining", "0")
            headers.setdefault("ratelimit-reset", headers.get("Retry-After", "1"))
        if failure.status == 422:
            body = error_body(422, "validation_error", _invalid_to("the recipient"))
        elif failure.status == 400 and failure.kind == "invalid_key":
            body = error_body(400, "validation_error", "API key is invalid")
        else:
            body = error_body(failure.status)
        return self.json_response(failure.status, body, headers)

    def _unverified_domain(self, payload: Any) -> str | None:
        """Resend's whole-request 403 when a sender's domain is not verified."""
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if not isinstance(item, dict):
                continue
            domain = _address(str(item.get("from", ""))).rpartition("@")[2].lower()
            if domain and domain in self.unverified_domains:
                return (
                    f"The {domain} domain is not verified. Please, add and verify your "
                    "domain on https://resend.com/domains"
                )
        return None

    def _send_one(self, payload: Any) -> tuple[int, Any]:
        problem = self._problem(payload)
        if problem:
            return 422, error_body(422, "validation_error", problem)
        mail = self._record(payload)
        return 200, {"id": mail.id}

    def _send_batch(self, payload: Any, permissive: bool) -> tuple[int, Any]:
        if not isinstance(payload, list) or not 1 <= len(payload) <= MAX_BATCH:
            return 422, error_body(422, "validation_error", "Batch must hold 1 to 100 emails.")
        problems = [self._problem(item) for item in payload]
        if any(problems) and not permissive:
            first = next(p for p in problems if p)
            return 422, error_body(422, "validation_error", first)
        valid = [item for item, bad in zip(payload, problems, strict=True) if not bad]
        data = [{"id": self._record(item).id} for item in valid]
        doc: dict[str, Any] = {"data": data}
        if permissive:
            doc["errors"] = [
                {"index": index, "message": problem}
                for index, problem in enumerate(problems)
                if problem
            ]
        return 200, doc

    def _problem(self, item: Any) -> str | None:
        if not isinstance(item, dict):
            return "Each email must be an object."
        for name in ("from", "to", "subject"):
            if not item.get(name):
                return f"The `{name}` field is missing."
        if not (item.get("html") or item.get("text")):
            return "Missing `html` or `text` field."
        recipients = item["to"] if isinstance(item["to"], list) else [item["to"]]
        for recipient in recipients:
            if not _EMAIL.match(_address(str(recipient))):
                return _invalid_to(recipient)
        if not _EMAIL.match(_address(str(item["from"]))):
            return "Invalid `from` field. The email address needs to follow the format."
        for tag in item.get("tags") or []:
            for part in (tag.get("name", ""), tag.get("value", "")):
                if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(part)):
                    return "Tags should only contain ASCII letters, numbers, underscores, dashes."
        return None

    def _record(self, item: dict[str, Any]) -> ResendMail:
        recipients = item["to"] if isinstance(item["to"], list) else [item["to"]]
        mail = ResendMail(
            id=str(uuid.uuid4()),
            to=[str(r) for r in recipients],
            from_=str(item["from"]),
            subject=str(item["subject"]),
            html=item.get("html"),
            text=item.get("text"),
            headers=dict(item.get("headers") or {}),
            tags={t["name"]: t["value"] for t in item.get("tags") or []},
            reply_to=item.get("reply_to"),
            raw=item,
        )
        with self._lock:
            self.received.append(mail)
        return mail


def _invalid_to(recipient: Any) -> str:
    return (
        f"Invalid `to` field. The email address needs to follow the `email@example.com` or "
        f"`Name <email@example.com>` format. Got {recipient}."
    )


def signed_webhook(
    secret: str,
    event: Mapping[str, Any],
    *,
    msg_id: str | None = None,
    when: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and Svix headers of a Resend webhook delivery, signed with svix itself."""
    body = json.dumps(event).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(int(when.timestamp())),
        "svix-signature": signature,
    }
    return body, headers
