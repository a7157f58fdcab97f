"""SendGrid adapter, built on the official ``sendgrid`` SDK (v3 Mail Send).

Batching. One request carries up to 1,000 personalizations but one shared ``content``,
while a campaign renders a body per recipient. Messages rendered from one template carry
the pieces their render yielded (``OutgoingEmail.parts``: literal text and values, as many
for every message of that template): :meth:`SendGridEmailProvider.send_batch` keeps the
pieces equal in every message of a request literal and turns each piece that differs into
a substitution tag (``-dc<nonce>h<n>-``), each personalization carrying its own values
in ``substitutions`` next to its ``to``, ``subject``, ``headers`` (List-Unsubscribe...)
and ``custom_args`` (our metadata, echoed at the top level of each webhook event). A
message without pieces, or whose substitutions would pass SendGrid's 10,000-byte limit,
goes in a request of its own. A 1,000-recipient campaign is thus one or a few HTTP calls,
and the body SendGrid rebuilds is exactly the message's own.

SendGrid has no idempotency key: a batch retried after a timeout may be sent twice.

Results: the 202's ``X-Message-Id`` is the id of the request, shared by its messages;
webhook events carry ``<x-message-id>.<suffix>`` and are matched through custom_args.

Errors (``python_http_client`` HTTPError by status): 429 -> ``TransientError`` with
``retry_after`` from Retry-After or X-RateLimit-Reset; 5xx, timeouts and connection
errors -> ``TransientError``; 401/403 -> ``AuthenticationError``; 400 saying a recipient
address (``personalizations.N.to.M.email``) is not a valid address ->
``PermanentError(suppress=True, reason="bounce")`` for that message, the rest of the
request is sent again without it; a 400 naming a field for any other reason (the same
address twice, a size limit) is never taken as a bounce; a 400 about our sender
(``from``, ``reply_to``) -> ``AccountError``; other 4xx -> ``PermanentError`` for every
message of the request. SendGrid refuses a whole request holding one address twice
(compared case-insensitively, across personalizations): a batch never puts two messages
to one address in one request.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

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

DEFAULT_BASE_URL = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000
MAX_SUBSTITUTION_BYTES = 10_000

_TAGS_AND_TEXT = re.compile(r"<[^>]*>|[^<]+|<")
_LONG_LINE = 400
_RECIPIENT_FIELD = re.compile(r"^personalizations\.(\d+)\.to\.\d+\.email$")
#: What SendGrid says of an address it will never deliver to (not of a duplicate one).
_INVALID_ADDRESS = re.compile(r"\b(?:not (?:contain )?a valid|invalid)\b", re.IGNORECASE)
_NOT_A_BOUNCE = re.compile(r"\bduplicate|\bunique\b|more than once|only be included once", re.I)
_SENDER_FIELD = re.compile(r"^(?:from|reply_to)(?:\.|$)")
#: The SDK sends a ``str`` body as it is when the content type is not exactly
#: ``application/json`` (it would encode it as JSON again otherwise): our requests are
#: encoded by :func:`_encode`.
_JSON_BODY = {"Content-Type": "application/json; charset=utf-8"}


class SendGridEmailProvider(EmailProvider):
    """Sends through ``POST /v3/mail/send``; ``base_url`` without ``/v3``."""

    name = "sendgrid"
    max_batch_size = MAX_PERSONALIZATIONS

    def __init__(
        self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0
    ) -> None:
        self.client = SendGridAPIClient(api_key, host=base_url.rstrip("/"))
        self.timeout = timeout

    # -- public ------------------------------------------------------------------------

    def send(self, message: OutgoingEmail) -> SendResult:
        body = _mail_body([message], [_personalization(message)], message.html, message.text)
        try:
            return SendResult(self._post(_encode(body)))
        except _RequestRefused as refused:
            raise refused.error_for(0) from None

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        self.check_batch_size(messages)
        requests = _plan(messages)
        results: list[SendResult | ProviderError | None] = [None] * len(messages)
        for position, request in enumerate(requests):
            try:
                self._send_request(messages, request, results)
            except TransientError as exc:
                if not any(isinstance(r, SendResult) for r in results):
                    raise
                for later in requests[position:]:
                    for index in later.indices:
                        if results[index] is None:
                            results[index] = exc
                break
        return [r for r in results if r is not None]

    # -- requests ----------------------------------------------------------------------

    def _send_request(
        self,
        messages: Sequence[OutgoingEmail],
        request: _Request,
        results: list[SendResult | ProviderError | None],
        retried: bool = False,
    ) -> None:
        try:
            message_id = self._post(_encode(request.body(messages)))
        except _RequestRefused as refused:
            bad = refused.bad_recipients()
            if bad is not None and not bad <= set(range(len(request.indices))):
                bad = None  # blames a personalization we did not send: trust none of it
            if not bad or retried:
                for slot, index in enumerate(request.indices):
                    results[index] = refused.error_for(slot)
                return
            for slot in bad:
                results[request.indices[slot]] = refused.error_for(slot)
            rest = request.without(bad)
            if rest.indices:
                self._send_request(messages, rest, results, retried=True)
            return
        for index in request.indices:
            results[index] = SendResult(message_id)

    def _post(self, payload: str) -> str | None:
        """POST one mail/send request (its JSON); the X-Message-Id of the 202."""
        try:
            response = self.client.client.mail.send.post(
                request_body=payload, request_headers=_JSON_BODY, timeout=self.timeout
            )
        except HTTPError as exc:
            raise _classify(exc) from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
            raise TransientError(
                f"request failed: {exc}", code=type(exc).__name__, provider=self.name
            ) from exc
        message_id = response.headers.get("X-Message-Id")
        return str(message_id) if message_id is not None else None


class _RequestRefused(Exception):
    """A 4xx other than auth: the SDK error, decoded, for the caller to map per message."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.text = "; ".join(str(e.get("message", "")) for e in errors) or f"HTTP {status}"

    def bad_recipients(self) -> set[int] | None:
        """Personalization indexes blamed for a bad address, or None if not all are."""
        if self.status != 400 or not self.errors:
            return None
        found: set[int] = set()
        for error in self.errors:
            match = _RECIPIENT_FIELD.match(str(error.get("field") or ""))
            if match is None or not _says_invalid_address(str(error.get("message") or "")):
                return None
            found.add(int(match.group(1)))
        return found

    def about_sender(self) -> bool:
        """Every error names our own sender (from, reply_to): the account's settings."""
        fields = [str(e.get("field") or "") for e in self.errors]
        return self.status == 400 and bool(fields) and all(_SENDER_FIELD.match(f) for f in fields)

    def error_for(self, slot: int) -> PermanentError:
        bad = self.bad_recipients()
        if bad is not None and slot in bad:
            return PermanentError(
                self.text,
                code=str(self.status),
                provider="sendgrid",
                suppress=True,
                reason="bounce",
            )
        if self.about_sender():
            return AccountError(self.text, code=str(self.status), provider="sendgrid")
        return PermanentError(self.text, code=str(self.status), provider="sendgrid")


def _says_invalid_address(message: str) -> bool:
    return bool(_INVALID_ADDRESS.search(message)) and not _NOT_A_BOUNCE.search(message)


def _classify(exc: HTTPError) -> Exception:
    status = int(exc.status_code)
    errors = _errors(exc.body)
    text = "; ".join(str(e.get("message", "")) for e in errors) or f"HTTP {status}"
    if status in (401, 403):
        return AuthenticationError(text, code=str(status), provider="sendgrid")
    if status == 429:
        retry = retry_after_seconds(_headers(exc), now=time.time())
        return TransientError(text, code="429", provider="sendgrid", retry_after=retry)
    if status >= 500 or status == 408:
        retry = retry_after_seconds(_headers(exc), now=time.time())
        return TransientError(text, code=str(status), provider="sendgrid", retry_after=retry)
    return _RequestRefused(status, errors)


def _headers(exc: HTTPError) -> Mapping[str, str]:
    headers = getattr(exc, "headers", None)
    return dict(headers.items()) if headers is not None else {}


def _errors(body: bytes | str | None) -> list[dict[str, Any]]:
    try:
        doc = json.loads(body or b"")
    except (ValueError, TypeError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


# -- payloads -------------------------------------------------------------------------


def _encode(body: dict[str, Any]) -> str:
    """A request body as JSON, as the SDK itself would encode it."""
    return json.dumps(body)


def _personalization(
    message: OutgoingEmail, substitutions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"to": [{"email": message.to}], "subject": message.subject}
    # The mappings go in as they are when they are dicts already (read only from here).
    headers, metadata = message.headers, message.metadata
    if headers:
        item["headers"] = headers if headers.__class__ is dict else dict(headers)
    if metadata:
        item["custom_args"] = metadata if metadata.__class__ is dict else dict(metadata)
    if substitutions:
        item["substitutions"] = (
            substitutions if substitutions.__class__ is dict else dict(substitutions)
        )
    return item


def _mail_body(
    messages: Sequence[OutgoingEmail],
    personalizations: list[dict[str, Any]],
    html: str,
    text: str,
) -> dict[str, Any]:
    first = messages[0]
    sender: dict[str, str] = {"email": first.from_email}
    if first.from_name:
        sender["name"] = first.from_name
    content = []
    if text:
        content.append({"type": "text/plain", "value": text})
    if html:
        content.append({"type": "text/html", "value": html})
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": sender,
        "subject": first.subject,
        "content": content,
    }
    if first.reply_to:
        body["reply_to"] = {"email": first.reply_to}
    return body


@dataclass(frozen=True)
class _Request:
    """Messages (by batch index) sent in one call, with the factored bodies."""

    indices: tuple[int, ...]
    html: str
    text: str
    substitutions: tuple[Mapping[str, str], ...]

    def body(self, messages: Sequence[OutgoingEmail]) -> dict[str, Any]:
        chosen = [messages[i] for i in self.indices]
        personalizations = [
            _personalization(m, s) for m, s in zip(chosen, self.substitutions, strict=True)
        ]
        return _mail_body(chosen, personalizations, self.html, self.text)

    def without(self, slots: set[int]) -> _Request:
        keep = [k for k in range(len(self.indices)) if k not in slots]
        return _Request(
            tuple(self.indices[k] for k in keep),
            self.html,
            self.text,
            tuple(self.substitutions[k] for k in keep),
        )


def _plan(messages: Sequence[OutgoingEmail]) -> list[_Request]:
    """The batch's requests: messages of one template (as many pieces, the same sender
    and reply-to) share one, each address at most once per request; others go alone."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    alone: list[_Request] = []
    seen: dict[str, int] = {}
    for index, m in enumerate(messages):
        if m.parts is None:
            alone.append(_Request((index,), m.html, m.text, ({},)))
            continue
        # The n-th message to one address goes in the n-th request of its group.
        address = m.to.casefold()
        repeat = seen[address] = seen.get(address, -1) + 1
        shape = (len(m.parts[0]), len(m.parts[1]))
        key = (m.from_email, m.from_name, m.reply_to, bool(m.html), bool(m.text), shape, repeat)
        groups.setdefault(key, []).append(index)
    plan: list[_Request] = []
    for indices in groups.values():
        plan.extend(_shared_body(messages, indices))
    return plan + alone


def _shared_body(messages: Sequence[OutgoingEmail], indices: list[int]) -> list[_Request]:
    """Requests for messages of one template: a piece equal in every message stays
    literal in the shared body, each other piece becomes a substitution tag."""
    if len(indices) == 1:
        m = messages[indices[0]]
        return [_Request((indices[0],), m.html, m.text, ({},))]
    parts = [messages[i].parts for i in indices]
    nonce = _nonce([messages[i] for i in indices])
    keys: list[str] = []
    bodies: list[str] = []
    varying: list[tuple[int, int]] = []  # (part, piece) of each tag, in order
    for part, letter in ((0, "h"), (1, "t")):
        pieces = [p[part] for p in parts]  # type: ignore[index]
        body: list[str] = []
        for number, first in enumerate(pieces[0]):
            if all(own[number] == first for own in pieces):
                body.append(first)
                continue
            key = f"-dc{nonce}{letter}{len(keys)}-"
            keys.append(key)
            varying.append((part, number))
            body.append(key)
        bodies.append("".join(body))
    values = [[p[part][number] for part, number in varying] for p in parts]  # type: ignore[index]
    return _requests(messages, indices, bodies[0], bodies[1], keys, values)


def _requests(
    messages: Sequence[OutgoingEmail],
    indices: Sequence[int],
    html: str,
    text: str,
    keys: Sequence[str],
    values: Sequence[Sequence[str]],
) -> list[_Request]:
    """One request for the messages whose substitutions (``keys`` to each message's
    ``values``) fit SendGrid's limit, one each for the others (sent whole)."""
    key_bytes = sum(map(len, keys))  # ASCII
    shared: list[int] = []
    subs: list[Mapping[str, str]] = []
    alone: list[_Request] = []
    for index, own in zip(indices, values, strict=True):
        if key_bytes + len("".join(own).encode()) > MAX_SUBSTITUTION_BYTES:
            m = messages[index]
            alone.append(_Request((index,), m.html, m.text, ({},)))
        else:
            shared.append(index)
            subs.append(dict(zip(keys, own, strict=True)))
    requests = [_Request(tuple(shared), html, text, tuple(subs))] if shared else []
    return requests + alone


def _nonce(messages: Sequence[OutgoingEmail]) -> str:
    """A tag prefix none of these messages' bodies holds."""
    while True:
        tag = f"-dc{secrets.token_hex(4)}"
        if not any(tag in m.html or tag in m.text for m in messages):
            return tag[3:]
