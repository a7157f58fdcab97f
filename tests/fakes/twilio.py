"""A local stand-in for the Twilio Messages API, spoken to over real HTTP.

``FakeTwilio`` answers ``POST /2010-04-01/Accounts/{Sid}/Messages.json`` the way Twilio
does (Basic auth, form fields, 201 JSON, error bodies ``{code, message, more_info,
status}``), records what it accepted in ``.received`` and can be scripted to fail. It also
plays Twilio's side of webhooks: signed status callbacks and signed inbound messages.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from providers.sms.segments import segment_info

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY = 1600

ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21612: "Message cannot be sent with the current combination of 'To' and 'From'.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21655: "The ContentSid is Invalid.",
    21656: "The ContentVariables Parameter is invalid.",
    21910: "Invalid From and To pair. From and To should be of the same channel.",
}
WHATSAPP = "whatsapp:"
WHATSAPP_WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = 63016
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC\w+)/Messages\.json$")
_FETCH_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC\w+)/Messages/(?P<msg>SM\w+)\.json$")


def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def twilio_date(when: datetime | None = None) -> str:
    """RFC 2822 date as Twilio writes it (``Thu, 30 Jul 2015 20:12:31 +0000``)."""
    return email.utils.format_datetime(when or datetime.now(UTC))


def error_body(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's error document."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature for a form POST of ``params`` to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


def signed_inbound_request(
    auth_token: str, url: str, params: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Form fields and headers of an inbound SMS webhook, signed as Twilio signs it.

    ``params`` usually hold From, To, Body and AccountSid; MessageSid, SmsSid, SmsMessageSid,
    NumMedia and ApiVersion are filled in when missing. POST the fields form-encoded to
    exactly ``url`` with the headers.
    """
    fields = {str(k): str(v) for k, v in params.items()}
    sid = fields.get("MessageSid") or new_sid()
    fields.setdefault("MessageSid", sid)
    fields.setdefault("SmsSid", sid)
    fields.setdefault("SmsMessageSid", sid)
    fields.setdefault("NumMedia", str(sum(1 for k in fields if re.fullmatch(r"MediaUrl\d+", k))))
    fields.setdefault("ApiVersion", API_VERSION)
    return fields, {SIGNATURE_HEADER: sign(auth_token, url, fields)}


@dataclass
class FakeMessage:
    """A message the fake accepted."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    media_urls: list[str]
    status_callback: str | None
    messaging_service_sid: str | None
    status: str
    date_created: str
    form: dict[str, list[str]] = field(default_factory=dict)
    #: what Twilio will report for it: ``delivered``, or ``failed`` with ``error_code``
    outcome: str = "delivered"
    error_code: int | None = None

    def resource(self) -> dict[str, Any]:
        """The JSON Twilio returns for the message."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": self.date_created,
            "date_sent": None,
            "date_updated": self.date_created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(self.media_urls)),
            "num_segments": str(max(1, segment_info(self.body).segments)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


@dataclass
class _Failure:
    status: int
    code: int
    message: str | None = None
    retry_after: str | None = None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeTwilio:
    """A threaded HTTP server on 127.0.0.1 playing the Twilio Messages API.

    ``accounts`` maps account SIDs to auth tokens (one default account otherwise).
    ``failure_rate`` makes that share of authenticated sends fail at random with 429, 500
    or 503 (seeded by ``seed``). Hangs never outlast ``max_hang`` seconds nor ``stop()``.
    """

    def __init__(
        self,
        accounts: Mapping[str, str] | None = None,
        *,
        failure_rate: float = 0.0,
        seed: int = 0,
        max_hang: float = 5.0,
    ) -> None:
        self.accounts = dict(accounts or {DEFAULT_ACCOUNT_SID: DEFAULT_AUTH_TOKEN})
        self.account_sid, self.auth_token = next(iter(self.accounts.items()))
        self.failure_rate = failure_rate
        self.max_hang = max_hang
        self.received: list[FakeMessage] = []
        self.messages: dict[str, FakeMessage] = {}
        self.request_count = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._per_recipient: dict[str, _Failure] = {}
        self._next: deque[_Failure] = deque()
        self._hangs: deque[float] = deque()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.content: dict[str, str] = {}
        self.last_inbound: dict[tuple[str, str], datetime] = {}

    # -- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the SDK (``client.api.base_url``)."""
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeTwilio:
        self._release.clear()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
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

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------

    def fail_for(
        self, to: str, code: int, *, status: int = 400, message: str | None = None
    ) -> None:
        """Answer every send to ``to`` with Twilio error ``code`` (21610, 21211...)."""
        with self._lock:
            self._per_recipient[to] = _Failure(status, code, message)

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 503,
        code: int | None = None,
        retry_after: float | str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``n`` authenticated sends with ``status`` (429 -> code 20429)."""
        if code is None:
            code = {429: 20429, 500: 20500}.get(status, 20503 if status >= 500 else 21211)
        ra = None if retry_after is None else str(retry_after)
        with self._lock:
            self._next.extend(_Failure(status, code, message, ra) for _ in range(n))

    def hang_next(self, n: int = 1, seconds: float | None = None) -> None:
        """Stall the next ``n`` sends (then answer 503, recording nothing)."""
        with self._lock:
            self._hangs.extend([float(min(seconds or self.max_hang, self.max_hang))] * n)

    # -- webhooks Twilio would send --------------------------------------------------

    def status_callback_request(
        self, sid: str, status: str, error_code: int | str | None = None
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """URL, form fields and signed headers of the status callback for message ``sid``."""
        msg = self.messages[sid]
        if not msg.status_callback:
            raise ValueError(f"message {sid} was sent without a StatusCallback")
        params = {
            "AccountSid": msg.account_sid,
            "ApiVersion": API_VERSION,
            "From": msg.from_ or "",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": msg.to,
        }
        if msg.messaging_service_sid:
            params["MessagingServiceSid"] = msg.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        token = self.accounts[msg.account_sid]
        headers = {SIGNATURE_HEADER: sign(token, msg.status_callback, params)}
        return msg.status_callback, params, headers

    def deliver_status(
        self, sid: str, status: str, error_code: int | str | None = None
    ) -> requests.Response:
        """POST a signed status callback for ``sid`` to the URL given at send time."""
        url, params, headers = self.status_callback_request(sid, status, error_code)
        with self._lock:
            self.messages[sid].status = status
        return requests.post(url, data=params, headers=headers, timeout=5)

    # -- WhatsApp --------------------------------------------------------------------

    def add_content(self, body: str, sid: str | None = None) -> str:
        """Register an approved template (``{{1}}`` placeholders); returns its ContentSid."""
        sid = sid or new_sid("HX")
        with self._lock:
            self.content[sid] = body
        return sid

    def open_window(self, customer: str, sender: str, at: datetime | None = None) -> None:
        """The customer (``whatsapp:+...``) last wrote to ``sender`` at ``at`` (now)."""
        with self._lock:
            self.last_inbound[(customer, sender)] = at or datetime.now(UTC)

    def whatsapp_inbound(
        self, url: str, customer: str, sender: str, body: str, **extra: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and signed headers of an inbound WhatsApp message to POST to ``url``
        (it opens the customer's window, as on Twilio)."""
        self.open_window(customer, sender)
        params = {
            "AccountSid": self.account_sid,
            "From": customer,
            "To": sender,
            "Body": body,
            "WaId": customer.removeprefix(WHATSAPP + "+"),
            "ProfileName": extra.pop("ProfileName", "Customer"),
            **extra,
        }
        return signed_inbound_request(self.auth_token, url, params)

    def settle_request(self, sid: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """URL, fields and signed headers of the final status Twilio would report for
        ``sid``: failed with 63016 when free text went outside the window, else delivered."""
        msg = self.messages[sid]
        with self._lock:
            msg.status = msg.outcome
        return self.status_callback_request(sid, msg.outcome, msg.error_code)

    def _whatsapp_checks(self, to: str, from_: str | None, form: Any) -> _Failure | str | None:
        """Twilio's WhatsApp rules: a failure, or the body to record (a filled template)."""
        if to.startswith(WHATSAPP) != (from_ or "").startswith(WHATSAPP):
            return _Failure(400, 21910)
        sid = form.get("ContentSid")
        if sid is None:
            return None
        with self._lock:
            template = self.content.get(sid) if _CONTENT_SID.match(sid) else None
        if template is None:
            return _Failure(400, 21655)
        try:
            variables = json.loads(form.get("ContentVariables") or "{}")
        except ValueError:
            return _Failure(400, 21656)
        if not isinstance(variables, dict) or not all(
            isinstance(v, str) for v in variables.values()
        ):
            return _Failure(400, 21656)
        for key, value in variables.items():
            template = template.replace("{{" + str(key) + "}}", value)
        return template

    def _outside_window(self, to: str, from_: str | None) -> bool:
        with self._lock:
            last = self.last_inbound.get((to, from_ or ""))
        return last is None or datetime.now(UTC) - last >= WHATSAPP_WINDOW

    # -- HTTP ------------------------------------------------------------------------

    def _json(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> Response:
        return Response(
            json.dumps(doc),
            status=status,
            headers=dict(headers or {}),
            content_type="application/json; charset=utf-8",
        )

    def _error(self, failure: _Failure) -> Response:
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
        return self._json(
            failure.status, error_body(failure.code, failure.status, failure.message), headers
        )

    def _authorized(self, request: Request, sid: str) -> bool:
        auth = request.authorization
        return (
            auth is not None
            and auth.type == "basic"
            and auth.username == sid
            and self.accounts.get(sid) is not None
            and secrets.compare_digest(auth.password or "", self.accounts[sid])
        )

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._handle(request)(environ, start_response)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.request_count += 1
        send = _MESSAGES_PATH.match(request.path)
        fetch = _FETCH_PATH.match(request.path)
        match = send or fetch
        if match is None or (send and request.method != "POST"):
            return self._error(_Failure(404, 20404))
        if not self._authorized(request, match["sid"]):
            return self._error(_Failure(401, 20003))
        if fetch:
            found = self.messages.get(fetch["msg"])
            if found is None or found.account_sid != fetch["sid"]:
                return self._error(_Failure(404, 20404))
            return self._json(200, found.resource())
        return self._send(request, match["sid"])

    def _next_failure(self) -> _Failure | float | None:
        with self._lock:
            if self._hangs:
                return self._hangs.popleft()
            if self._next:
                return self._next.popleft()
            if self.failure_rate and self._rng.random() < self.failure_rate:
                status = self._rng.choice((429, 500, 503))
                code = {429: 20429, 500: 20500, 503: 20503}[status]
                return _Failure(status, code, retry_after="1" if status == 429 else None)
        return None

    def _send(self, request: Request, account_sid: str) -> Response:
        scripted = self._next_failure()
        if isinstance(scripted, float):
            self._release.wait(scripted)
            return self._error(_Failure(503, 20503))
        if scripted is not None:
            return self._error(scripted)

        form = request.form
        to = form.get("To", "")
        from_ = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        body = form.get("Body", "")
        media = form.getlist("MediaUrl")
        if not to:
            return self._error(_Failure(400, 21604))
        if not from_ and not service:
            return self._error(_Failure(400, 21603))
        whatsapp = to.startswith(WHATSAPP) or (from_ or "").startswith(WHATSAPP)
        filled = self._whatsapp_checks(to, from_, form) if whatsapp else None
        if isinstance(filled, _Failure):
            return self._error(filled)
        if isinstance(filled, str):
            body = filled
        if not body and not media:
            return self._error(_Failure(400, 21602))
        if len(body) > MAX_BODY:
            return self._error(_Failure(400, 21617))
        with self._lock:
            failure = self._per_recipient.get(to)
        if failure is not None:
            return self._error(failure)
        if not _E164.match(to.removeprefix(WHATSAPP)):
            return self._error(_Failure(400, 21211, f"The 'To' number {to} is not valid."))
        free_text_too_late = (
            whatsapp and filled is None and self._outside_window(to, from_ or service or "")
        )

        message = FakeMessage(
            sid=new_sid(),
            account_sid=account_sid,
            to=to,
            from_=from_,
            body=body,
            media_urls=media,
            status_callback=form.get("StatusCallback") or None,
            messaging_service_sid=service,
            status="accepted" if service else "queued",
            date_created=twilio_date(),
            form={k: form.getlist(k) for k in form},
            outcome="failed" if free_text_too_late else "delivered",
            error_code=OUTSIDE_WINDOW if free_text_too_late else None,
        )
        with self._lock:
            self.received.append(message)
            self.messages[message.sid] = message
        return self._json(201, message.resource())
