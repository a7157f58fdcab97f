"""Resend adapter, built on the official ``resend`` SDK.

The SDK is configured through module globals (``resend.api_key``, ``resend.api_url``,
``resend.default_http_client``), read when a request is made. Each call sets them under
one process-wide lock, so providers with different keys or URLs can live in one process
and be used from several threads; their Resend calls then take turns. Our transport is a
``requests.Session`` (keep-alive) with the configured timeout.

Batches go to ``POST /emails/batch`` (at most 100) in permissive validation mode: an
invalid message comes back in ``errors`` by index and the others are sent, ids in
``data`` in the order of the valid messages. Idempotency keys: a message's own for a
single send; for a batch, a key derived from all the messages' keys (none if any message
lacks one), so a retried batch is not sent twice within Resend's 24 hours.

Errors (``resend.exceptions``): RateLimitError / 429 -> ``TransientError`` with
``retry_after`` from retry-after or ratelimit-reset (the SDK keeps response headers on
its errors since 2.23); 5xx, 409 concurrent idempotent request and transport failures
(the SDK wraps requests' ConnectionError/Timeout as a 500 ``HttpClientError``) ->
``TransientError``; MissingApiKeyError, InvalidApiKeyError, other 400/401/403 naming the
key -> ``AuthenticationError``; any other 403 (``validation_error`` "The <domain> domain
is not verified", "You can only send testing emails to your own email address") and the
account's own settings (``invalid_from_address``, ``restricted_api_key``,
``invalid_access``) -> ``AccountError``: the account, not a recipient, is the reason, and
nothing will go until it is fixed. ValidationError and other 4xx -> ``PermanentError``,
with ``suppress=True, reason="bounce"`` when it is about the ``to`` address (a whole
batch refused so is the outcome of each of its messages, none suppressed). Needs
``resend>=2.23`` (``batch_validation`` arrived in 2.14).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import formataddr
from typing import Any

import requests
import resend
from resend.exceptions import (
    InvalidApiKeyError,
    MissingApiKeyError,
    RateLimitError,
    ResendError,
)

from providers.email.base import (
    BatchOutcome,
    EmailProvider,
    OutgoingEmail,
    SendResult,
    retry_after_seconds,
)
from providers.errors import (
    AccountError,
    AuthenticationError,
    PermanentError,
    ProviderError,
    TransientError,
)

DEFAULT_BASE_URL = "https://api.resend.com"
MAX_BATCH = 100

_SDK_LOCK = threading.Lock()
_ABOUT_RECIPIENT = re.compile(r"[`'\"]to[`'\"]|\bto field\b", re.IGNORECASE)
_ABOUT_KEY = re.compile(r"\bapi[ _-]?key\b", re.IGNORECASE)
#: Error types naming the account's own settings rather than a message or a recipient.
_ACCOUNT_ERROR_TYPES = frozenset({"invalid_from_address", "restricted_api_key", "invalid_access"})


class _SessionClient(resend.HTTPClient):
    """The SDK's HTTP transport on a keep-alive ``requests.Session`` with our timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.session = requests.Session()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            response = self.session.request(
                method,
                url,
                headers=dict(headers),
                json=json if data is None else None,
                data=data,
                files=files,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # the SDK turns this into HttpClientError
            raise RuntimeError(f"Request failed: {exc}") from exc
        return response.content, response.status_code, response.headers


class ResendEmailProvider(EmailProvider):
    """Sends through Resend's ``/emails`` and ``/emails/batch``."""

    name = "resend"
    max_batch_size = MAX_BATCH

    def __init__(
        self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.http = _SessionClient(timeout)

    def send(self, message: OutgoingEmail) -> SendResult:
        options: resend.Emails.SendOptions = {}
        if message.idempotency_key:
            options["idempotency_key"] = message.idempotency_key
        answer = self._call(lambda: resend.Emails.send(_params(message), options or None))
        return SendResult(answer.get("id"))

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        self.check_batch_size(messages)
        if not messages:
            return []
        options: resend.Batch.SendOptions = {"batch_validation": "permissive"}
        key = batch_idempotency_key(messages)
        if key:
            options["idempotency_key"] = key
        params = [_params(m) for m in messages]
        answer = self._call(lambda: resend.Batch.send(params, options))
        refused: dict[int, PermanentError] = {}
        for error in answer.get("errors") or []:
            index = int(error.get("index", -1))
            if 0 <= index < len(messages):
                refused[index] = _validation_error(str(error.get("message", "")), 422)
        ids = iter(item.get("id") for item in answer.get("data") or [])
        results: BatchOutcome = []
        for index in range(len(messages)):
            outcome: SendResult | ProviderError = refused.get(index) or SendResult(next(ids, None))
            results.append(outcome)
        return results

    def close(self) -> None:
        self.http.session.close()

    def _call(self, request: Callable[[], Any]) -> Any:
        with _SDK_LOCK:
            resend.api_key = self.api_key
            resend.api_url = self.base_url
            resend.default_http_client = self.http
            try:
                return request()
            except ResendError as exc:
                raise _classify(exc) from exc


def batch_idempotency_key(messages: Sequence[OutgoingEmail]) -> str | None:
    """A key naming exactly this batch of messages, when every message has a key."""
    keys = [m.idempotency_key for m in messages]
    if not keys or any(not k for k in keys):
        return None
    digest = hashlib.sha256("\n".join(k for k in keys if k).encode()).hexdigest()
    return f"batch-{digest}"


def _params(message: OutgoingEmail) -> resend.Emails.SendParams:
    sender = (
        formataddr((message.from_name, message.from_email))
        if message.from_name
        else message.from_email
    )
    params: resend.Emails.SendParams = {
        "from": sender,
        "to": [message.to],
        "subject": message.subject,
    }
    if message.html:
        params["html"] = message.html
    if message.text:
        params["text"] = message.text
    if message.reply_to:
        params["reply_to"] = message.reply_to
    if message.headers:
        params["headers"] = dict(message.headers)
    if message.metadata:
        params["tags"] = [{"name": k, "value": v} for k, v in message.metadata.items()]
    return params


def _status(exc: ResendError) -> int:
    try:
        return int(exc.code)
    except (TypeError, ValueError):
        return 500


def _classify(exc: ResendError) -> ProviderError:
    status = _status(exc)
    text = str(exc.message or exc.error_type or f"HTTP {status}")
    code = str(exc.error_type or status)
    if isinstance(exc, RateLimitError) or status == 429:
        retry = retry_after_seconds(getattr(exc, "headers", None), now=time.time())
        return TransientError(text, code=code, provider="resend", retry_after=retry)
    if isinstance(exc, MissingApiKeyError | InvalidApiKeyError) or status == 401:
        return AuthenticationError(text, code=code, provider="resend")
    if status in (400, 403) and _ABOUT_KEY.search(text):
        return AuthenticationError(text, code=code, provider="resend")
    if status == 403 or exc.error_type in _ACCOUNT_ERROR_TYPES:
        return AccountError(text, code=code, provider="resend")
    if status >= 500 or status == 408 or exc.error_type == "concurrent_idempotent_requests":
        retry = retry_after_seconds(getattr(exc, "headers", None), now=time.time())
        return TransientError(text, code=code, provider="resend", retry_after=retry)
    if status in (400, 422):
        return _validation_error(text, status, code)
    return PermanentError(text, code=code, provider="resend")


def _validation_error(text: str, status: int, code: str | None = None) -> PermanentError:
    if _ABOUT_RECIPIENT.search(text):
        return PermanentError(
            text, code=code or str(status), provider="resend", suppress=True, reason="bounce"
        )
    return PermanentError(text, code=code or str(status), provider="resend")
