"""Twilio SMS adapter, built on the official ``twilio`` SDK.

Error mapping (``TwilioRestException.code`` / HTTP status):

- 21610 (recipient replied STOP): ``PermanentError(suppress=True, reason="STOP")``.
- The number itself is bad, for any sender: ``PermanentError(suppress=True,
  reason="bounce")`` for 21211 (invalid To), 21214 (To cannot be reached), 21217 (number
  does not appear valid), 21401 (invalid number), 21407 (number type cannot take SMS) and
  21614 (To is not a mobile number).
- Not suppressed, because they depend on our sender, account or settings rather than
  on the recipient: 21612 (this To/From combination cannot be used), 21408 (region not
  enabled), 21606/21603 (bad or missing From), 21608/21219 (trial account limits).
  They are plain ``PermanentError``.
- 20003 or HTTP 401: ``AuthenticationError``.
- 20429, HTTP 429, 21611 (sender queue full), HTTP 408 and 5xx: ``TransientError``, with
  ``retry_after`` from the Retry-After header when the answer had one.
- Any other 4xx: ``PermanentError``.
- Connection errors and timeouts (``requests``): ``TransientError``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from providers.errors import (
    AuthenticationError,
    PermanentError,
    TransientError,
    parse_retry_after,
)
from providers.sms.base import OutgoingSms, SmsProvider, SmsResult

try:  # RFC 9457 errors, only in recent SDKs
    from twilio.base.exceptions import TwilioServiceException
except ImportError:  # pragma: no cover - older twilio 9.x

    class TwilioServiceException(Exception):  # type: ignore[no-redef]
        status: int
        code: int
        detail: str | None
        title: str


DEFAULT_BASE_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"

STOP_CODES = frozenset({21610})
BAD_NUMBER_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21614})
AUTH_CODES = frozenset({20003})
RETRY_CODES = frozenset({20429, 21611})

_CONNECTION_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class _ParamsWithGetall(Protocol):
    def getall(self, key: str) -> list[str]: ...


class _HeaderKeepingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # SDK has no types
    """TwilioHttpClient that remembers, per thread, the headers of the last answer.

    The SDK's exceptions do not carry response headers; this is how Retry-After is read.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> dict[str, str]:
        return getattr(self._local, "headers", {})

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def map_twilio_error(
    exc: TwilioRestException | TwilioServiceException, headers: Mapping[str, str] | None = None
) -> PermanentError | TransientError:
    """Turn a Twilio API error into one of our provider errors (see module docstring)."""
    status = int(exc.status or 0)
    code = int(exc.code) if exc.code is not None else None
    text = (
        exc.msg
        if isinstance(exc, TwilioRestException)
        else (exc.detail or exc.title or "Twilio error")
    )
    code_str = str(code if code is not None else status)
    if code in STOP_CODES:
        return PermanentError(text, suppress=True, reason="STOP", code=code_str, provider="twilio")
    if code in AUTH_CODES or status == 401:
        return AuthenticationError(text, code=code_str, provider="twilio")
    if code in BAD_NUMBER_CODES:
        return PermanentError(
            text, suppress=True, reason="bounce", code=code_str, provider="twilio"
        )
    if code in RETRY_CODES or status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(_header(headers or {}, "Retry-After"))
        return TransientError(text, retry_after=retry_after, code=code_str, provider="twilio")
    return PermanentError(text, code=code_str, provider="twilio")


class TwilioSmsProvider(SmsProvider):
    """Sends through ``POST /2010-04-01/Accounts/{Sid}/Messages.json``."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self._http = _HeaderKeepingHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self._http)
        # TWILIO_EDGE / TWILIO_REGION from the environment would rewrite the host.
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = base_url.rstrip("/")

    def send(self, message: OutgoingSms) -> SmsResult:
        from_number = message.from_number or self.from_number
        service_sid = message.messaging_service_sid or self.messaging_service_sid
        if not from_number and not service_sid:
            raise PermanentError(
                "no From number or Messaging Service SID configured", provider=self.name
            )
        try:
            created = self.client.messages.create(
                to=message.to,
                from_=from_number or values.unset,
                messaging_service_sid=service_sid or values.unset,
                body=message.body,
                media_url=list(message.media_urls) or values.unset,
                status_callback=message.status_callback or values.unset,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise map_twilio_error(exc, self._http.last_headers()) from exc
        except _CONNECTION_ERRORS as exc:
            kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "failed"
            raise TransientError(
                f"connection to Twilio {kind}: {exc.__class__.__name__}", provider=self.name
            ) from exc
        return SmsResult(provider_message_id=str(created.sid), status=str(created.status))

    def close(self) -> None:
        self._http.close()


def verify_twilio_signature(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | _ParamsWithGetall,
    signature: str | None,
) -> bool:
    """True when ``signature`` (X-Twilio-Signature) signs ``url`` + ``params``.

    ``url`` must be the public URL Twilio called (scheme, host, path and query), not the
    one a proxy forwarded to. ``params`` are the POSTed form fields (a dict or a
    MultiDict for repeated keys).
    """
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))
