"""A local stand-in for SendGrid's v3 Mail Send API, spoken to over real HTTP.

``FakeSendGrid`` answers ``POST /v3/mail/send`` as SendGrid does: Bearer auth, 202 with
an empty body and ``X-Message-Id``, errors ``{"errors": [{"field", "message", "help"}]}``.
Each accepted personalization is recorded in ``.received`` as the mail SendGrid would
deliver: substitutions applied to the content, headers and custom_args merged.

``ScriptedHTTPFake`` is the threaded server with scripted failures that the Resend fake
and the SES proxy also build on.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

DEFAULT_API_KEY = "SG.fake-key.0123456789"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Failure:
    """A scripted answer: an HTTP status with optional headers, or a hang (``hang`` s)."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    hang: float | None = None
    kind: str | None = None  # fake-specific flavour ("invalid_recipient"...)


class ScriptedHTTPFake(ABC):
    """A threaded HTTP server on 127.0.0.1:0 whose next answers can be scripted.

    ``fail_next`` queues error answers, ``hang_next`` stalls requests (bounded by
    ``max_hang`` and released by ``stop()``), ``failure_rate`` fails that share of the
    remaining requests at random (429 or 503, seeded by ``seed``).
    """

    def __init__(self, *, failure_rate: float = 0.0, seed: int = 0, max_hang: float = 5.0):
        self.failure_rate = failure_rate
        self.max_hang = max_hang
        self.request_count = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._next: deque[Failure | None] = deque()  # None lets one request through
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ScriptedHTTPFake:
        self._release.clear()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        retry_after: float | str | None = None,
        headers: Mapping[str, str] | None = None,
        kind: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer ``n`` requests with ``status`` (and Retry-After if given), once ``after``
        more requests have been served normally."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._next.extend([None] * after)
            self._next.extend(Failure(status, dict(extra), kind=kind) for _ in range(n))

    def hang_next(self, n: int = 1, seconds: float | None = None) -> None:
        """Stall the next ``n`` requests, then answer 503 having recorded nothing."""
        wait = min(seconds if seconds is not None else self.max_hang, self.max_hang)
        with self._lock:
            self._next.extend(Failure(503, hang=wait) for _ in range(n))

    def clear_script(self) -> None:
        """Forget failures and hangs not yet played."""
        with self._lock:
            self._next.clear()

    def _scripted(self) -> Failure | None:
        with self._lock:
            if self._next:
                return self._next.popleft()  # a failure, or None: serve this one
            if self.failure_rate and self._rng.random() < self.failure_rate:
                if self._rng.random() < 0.5:
                    return Failure(429, {"Retry-After": "1"})
                return Failure(503)
        return None

    # -- HTTP ------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.request_count += 1
        return self.handle(request)(environ, start_response)

    def run_script(self, failure: Failure | None) -> Failure | None:
        """Hang if told to; the failure to answer with, if any."""
        if failure is not None and failure.hang is not None:
            self._release.wait(failure.hang)
        return failure

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Answer one request as the provider would."""

    @staticmethod
    def json_response(status: int, doc: Any, headers: Mapping[str, str] | None = None) -> Response:
        return Response(
            json.dumps(doc),
            status=status,
            headers=dict(headers or {}),
            content_type="application/json",
        )


@dataclass
class SentMail:
    """One personalization SendGrid accepted, as it would be delivered."""

    to: str
    from_email: str
    from_name: str | None
    subject: str
    html: str | None
    text: str | None
    headers: dict[str, str]
    custom_args: dict[str, str]
    reply_to: str | None
    x_message_id: str


def _sg_error(field_name: str | None, message: str) -> dict[str, Any]:
    return {"field": field_name, "message": message, "help": None}


def _duplicate(address: str) -> str:
    return (
        "Each unique email address in the personalizations array should only be included "
        f"once. You have included {address} more than once."
    )


def _duplicates(personalizations: list[Any]) -> list[dict[str, Any]]:
    """SendGrid's 400 for an address given twice in one request (case-insensitive)."""
    seen: set[str] = set()
    errors = []
    for p_index, item in enumerate(personalizations):
        if not isinstance(item, dict):
            continue
        for kind in ("to", "cc", "bcc"):
            for t_index, recipient in enumerate(item.get(kind) or []):
                address = str(recipient.get("email", "")).casefold()
                if address in seen:
                    field_name = f"personalizations.{p_index}.{kind}.{t_index}.email"
                    errors.append(_sg_error(field_name, _duplicate(address)))
                seen.add(address)
    return errors


class FakeSendGrid(ScriptedHTTPFake):
    """SendGrid Mail Send on 127.0.0.1; ``.received`` holds each accepted recipient's mail.

    ``fail_next(status=400)`` answers a 400 blaming the first recipient's address;
    ``fail_next(status=400, kind="duplicate")`` the 400 of an address given twice;
    ``reject(address)`` makes SendGrid refuse that address as invalid wherever it appears.
    A request holding one address twice (to, cc or bcc, across personalizations, compared
    case-insensitively) is refused as a whole, as SendGrid documents.
    """

    def __init__(self, api_key: str = DEFAULT_API_KEY, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.received: list[SentMail] = []
        self.requests: list[dict[str, Any]] = []  # accepted request bodies
        self.rejected: set[str] = set()

    def __enter__(self) -> FakeSendGrid:
        self.start()
        return self

    def reject(self, address: str) -> None:
        with self._lock:
            self.rejected.add(address)

    def accept_then_hang(self, n: int = 1, seconds: float | None = None) -> None:
        """Accept and record the next ``n`` requests, then stall before answering (as a
        SendGrid whose 202 is lost): a client timing out cannot know they went."""
        wait = min(seconds if seconds is not None else self.max_hang, self.max_hang)
        with self._lock:
            self._next.extend(Failure(202, hang=wait, kind="accepted") for _ in range(n))

    def handle(self, request: Request) -> Response:
        if request.path != "/v3/mail/send" or request.method != "POST":
            return self.json_response(404, {"errors": [_sg_error(None, "not found")]})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            message = "The provided authorization grant is invalid, expired, or revoked"
            return self.json_response(401, {"errors": [_sg_error(None, message)]})
        scripted = self._scripted()
        late = scripted if scripted is not None and scripted.kind == "accepted" else None
        failure = None if late is not None else self.run_script(scripted)
        if failure is not None:
            return self._failure(failure)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return self.json_response(400, {"errors": [_sg_error(None, "Bad Request")]})
        errors = self._validate(body)
        if errors:
            return self.json_response(400, {"errors": errors})
        message_id = secrets.token_urlsafe(16)[:22]
        mails = list(self._expand(body, message_id))
        with self._lock:
            self.requests.append(body)
            self.received.extend(mails)
        if late is not None:
            self._release.wait(late.hang)  # accepted; the answer comes too late
        return Response(b"", status=202, headers={"X-Message-Id": message_id})

    def _failure(self, failure: Failure) -> Response:
        headers = dict(failure.headers)
        if failure.status == 400 and failure.kind == "duplicate":
            error = _sg_error("personalizations.0.to.0.email", _duplicate("the address"))
        elif failure.status == 400:
            error = _sg_error("personalizations.0.to.0.email", "Does not contain a valid address.")
        elif failure.status == 429:
            headers.setdefault("X-RateLimit-Limit", "600")
            headers.setdefault("X-RateLimit-Remaining", "0")
            error = _sg_error(None, "too many requests")
        elif failure.status in (401, 403):
            error = _sg_error(None, "The provided authorization grant is invalid")
        else:
            error = _sg_error(None, "Service Unavailable")
        return self.json_response(failure.status, {"errors": [error]}, headers)

    def _validate(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            return [_sg_error(None, "Bad Request")]
        errors = []
        sender = body.get("from") or {}
        if not _EMAIL.match(str(sender.get("email", ""))):
            errors.append(
                _sg_error("from.email", "The from email does not contain a valid address.")
            )
        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= 1000:
            errors.append(
                _sg_error("personalizations", "must contain between 1 and 1000 personalizations")
            )
            return errors
        errors.extend(_duplicates(personalizations))
        content = body.get("content") or []
        if not content or any(not c.get("value") for c in content):
            errors.append(_sg_error("content", "content value must be at least one character"))
        for p_index, item in enumerate(personalizations):
            for t_index, to in enumerate(item.get("to") or []):
                address = str(to.get("email", ""))
                if not _EMAIL.match(address) or address in self.rejected:
                    errors.append(
                        _sg_error(
                            f"personalizations.{p_index}.to.{t_index}.email",
                            "Does not contain a valid address.",
                        )
                    )
            if not (item.get("subject") or body.get("subject")):
                errors.append(_sg_error("subject", "The subject is required."))
            subs = item.get("substitutions") or {}
            if sum(len(k.encode()) + len(v.encode()) for k, v in subs.items()) > 10_000:
                errors.append(
                    _sg_error(
                        f"personalizations.{p_index}.substitutions",
                        "substitutions may not exceed 10000 bytes per personalization",
                    )
                )
        return errors

    def _expand(self, body: dict[str, Any], message_id: str) -> Iterator[SentMail]:
        content = {c["type"]: c["value"] for c in body.get("content") or []}
        sender = body["from"]
        for item in body["personalizations"]:
            subs = item.get("substitutions") or {}
            html, text = content.get("text/html"), content.get("text/plain")
            for key, value in subs.items():
                html = html.replace(key, value) if html is not None else None
                text = text.replace(key, value) if text is not None else None
            for to in item.get("to") or []:
                yield SentMail(
                    to=to["email"],
                    from_email=sender["email"],
                    from_name=sender.get("name"),
                    subject=item.get("subject") or body.get("subject", ""),
                    html=html,
                    text=text,
                    headers={**(body.get("headers") or {}), **(item.get("headers") or {})},
                    custom_args={
                        **(body.get("custom_args") or {}),
                        **(item.get("custom_args") or {}),
                    },
                    reply_to=(body.get("reply_to") or {}).get("email"),
                    x_message_id=message_id,
                )
