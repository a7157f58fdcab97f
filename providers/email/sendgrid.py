"""SendGrid adapter, built on the official ``sendgrid`` SDK (v3 Mail Send).

Batching. One request carries up to 1,000 personalizations but one shared ``content``,
while a campaign renders a body per recipient. :meth:`SendGridEmailProvider.send_batch`
therefore factors the bodies of messages sharing a sender and reply-to: the parts equal
in every body stay literal, each region that differs becomes a substitution tag
(``-dc<nonce><n>-``) and every personalization carries its own values in
``substitutions`` next to its ``to``, ``subject``, ``headers`` (List-Unsubscribe...) and
``custom_args`` (our metadata, echoed at the top level of each webhook event). Messages
made from one template carry its layout (:class:`~providers.email.base.Merge`): each of
its fields that differs between them becomes a tag. Other bodies are cut into lines
(long lines into tags and text runs) and aligned with the first body. Either way a
greeting or an unsubscribe link costs a few bytes, not a copy of the body.
A recipient whose substitutions would pass SendGrid's 10,000-byte limit goes in a
request of its own. A 1,000-recipient campaign is thus one or a few HTTP calls, and the
body SendGrid rebuilds is exactly the message's own.

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

import bisect
import http.client
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from providers.email.base import (
    BatchOutcome,
    EmailProvider,
    MergeLayout,
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
#: encoded by :func:`_encode`, so that a batch can be encoded before it is sent.
_JSON_BODY = {"Content-Type": "application/json; charset=utf-8"}


class SendGridEmailProvider(EmailProvider):
    """Sends through ``POST /v3/mail/send``; ``base_url`` without ``/v3``."""

    name = "sendgrid"
    max_batch_size = MAX_PERSONALIZATIONS
    process_safe = True

    def __init__(
        self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0
    ) -> None:
        self.client = SendGridAPIClient(api_key, host=base_url.rstrip("/"))
        self.timeout = timeout
        self._settings = (api_key, base_url, timeout)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_provider_from_settings, self._settings)  # a new SDK client, no state

    # -- public ------------------------------------------------------------------------

    def send(self, message: OutgoingEmail) -> SendResult:
        body = _mail_body([message], [_personalization(message)], message.html, message.text)
        try:
            return SendResult(self._post(_encode(body)))
        except _RequestRefused as refused:
            raise refused.error_for(0) from None

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        return self.send_staged(self.stage_batch(messages))

    def stage_batch(self, messages: Sequence[OutgoingEmail]) -> _Staged:
        """The batch's requests, planned and encoded as JSON (no network)."""
        self.check_batch_size(messages)
        plan = _plan(messages)
        return _Staged(messages, [(request, _encode(request.body(messages))) for request in plan])

    def send_staged(self, staged: _Staged) -> BatchOutcome:
        messages = staged.messages
        results: list[SendResult | ProviderError | None] = [None] * len(messages)
        for position, (request, payload) in enumerate(staged.requests):
            try:
                self._send_request(messages, request, results, payload=payload)
            except TransientError as exc:
                if not any(isinstance(r, SendResult) for r in results):
                    raise
                for later, _payload in staged.requests[position:]:
                    for index in later.indices:
                        if results[index] is None:
                            results[index] = exc
                break
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    # -- requests ----------------------------------------------------------------------

    def _send_request(
        self,
        messages: Sequence[OutgoingEmail],
        request: _Request,
        results: list[SendResult | ProviderError | None],
        retried: bool = False,
        payload: str | None = None,
    ) -> None:
        try:
            message_id = self._post(payload or _encode(request.body(messages)))
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
        return response.headers.get("X-Message-Id")


def _provider_from_settings(api_key: str, base_url: str, timeout: float) -> SendGridEmailProvider:
    return SendGridEmailProvider(api_key, base_url=base_url, timeout=timeout)


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


@dataclass(frozen=True)
class _Staged:
    """A batch ready to go: its messages and each request with its encoded body."""

    messages: Sequence[OutgoingEmail]
    requests: list[tuple[_Request, str]]


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
    """Group messages that can share a request and factor each group's bodies."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    seen: dict[str, int] = {}
    for index, m in enumerate(messages):
        # The n-th message to one address goes in the n-th request of its group.
        address = m.to.casefold()
        repeat = seen[address] = seen.get(address, -1) + 1
        key = (m.from_email, m.from_name, m.reply_to, bool(m.html), bool(m.text), _layout(m))
        groups.setdefault((*key, repeat), []).append(index)
    plan: list[_Request] = []
    for indices in groups.values():
        plan.extend(_factor_group(messages, indices))
    return plan


def _factor_group(messages: Sequence[OutgoingEmail], indices: list[int]) -> list[_Request]:
    if len(indices) == 1:
        m = messages[indices[0]]
        return [_Request((indices[0],), m.html, m.text, ({},))]
    htmls = [messages[i].html for i in indices]
    texts = [messages[i].text for i in indices]
    nonce = _nonce(htmls + texts)
    layout = _layout(messages[indices[0]])
    if layout is not None:  # one layout: its fields are the slots
        return _merged_group(messages, indices, layout, nonce)
    html_parts, html_values = factor(htmls, tokenize)
    text_parts, text_values = factor(texts, tokenize)
    html_keys = [f"-dc{nonce}h{slot}-" for slot in range(len(html_values[0]))]
    text_keys = _text_keys(html_keys, html_values, text_values, f"-dc{nonce}t")
    html_tpl = _render_template(html_parts, html_keys)
    text_tpl = _render_template(text_parts, text_keys)
    own = set(html_keys)
    text_own = [j for j, key in enumerate(text_keys) if key not in own]  # not shared
    rows = [(html_values[k], [text_values[k][j] for j in text_own]) for k in range(len(indices))]
    keys = html_keys + [text_keys[j] for j in text_own]
    return _requests(messages, indices, html_tpl, text_tpl, keys, [h + t for h, t in rows])


def _merged_group(
    messages: Sequence[OutgoingEmail], indices: list[int], layout: MergeLayout, nonce: str
) -> list[_Request]:
    """Requests for messages filling one layout: a field equal in every message stays
    literal, the others become tags, one per distinct column of values (a link in both
    parts, or twice in one, travels once)."""
    values = [messages[i].merge.values for i in indices]  # type: ignore[union-attr]
    columns = list(zip(*values, strict=True))
    in_html = {p for p in layout.html if p.__class__ is int}
    tag_of: dict[tuple[str, ...], str] = {}
    tags: list[str | None] = []
    for field, column in enumerate(columns):
        if column.count(column[0]) == len(column):
            tags.append(None)
            continue
        tag = tag_of.get(column)
        if tag is None:
            part = "h" if field in in_html else "t"
            tag = tag_of[column] = f"-dc{nonce}{part}{len(tag_of)}-"
        tags.append(tag)

    def template(parts: tuple[str | int, ...]) -> str:
        return "".join(
            p if p.__class__ is str else (tags[p] or columns[p][0])  # type: ignore[index, misc]
            for p in parts
        )

    first_field: dict[str, int] = {}
    for field, tag in enumerate(tags):
        if tag is not None:
            first_field.setdefault(tag, field)
    picks = list(first_field.values())
    if len(picks) > 1:
        pick = itemgetter(*picks)
        chosen = [pick(row) for row in values]
    else:
        chosen = [tuple(row[f] for f in picks) for row in values]
    return _requests(
        messages, indices, template(layout.html), template(layout.text), list(first_field), chosen
    )


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
        characters = sum(map(len, own))
        # A character is at most 4 bytes in UTF-8: encode only when that may not fit.
        if key_bytes + 4 * characters > MAX_SUBSTITUTION_BYTES and (
            key_bytes + len("".join(own).encode()) > MAX_SUBSTITUTION_BYTES
        ):
            m = messages[index]
            alone.append(_Request((index,), m.html, m.text, ({},)))
        else:
            shared.append(index)
            subs.append(dict(zip(keys, own, strict=True)))
    requests = [_Request(tuple(shared), html, text, tuple(subs))] if shared else []
    return requests + alone


def _layout(message: OutgoingEmail) -> MergeLayout | None:
    """The layout of a message whose merge hint holds its bodies, else None."""
    merge = message.merge
    if merge is None or not merge.holds(message.html, message.text):
        return None
    return merge.layout


def tokenize(body: str) -> list[str]:
    """Lines, with long lines (minified HTML) cut further into tags and text runs."""
    tokens: list[str] = []
    for line in body.splitlines(keepends=True):
        if len(line) > _LONG_LINE:
            tokens.extend(_TAGS_AND_TEXT.findall(line))
        else:
            tokens.append(line)
    return tokens


def _nonce(bodies: Sequence[str]) -> str:
    while True:
        nonce = secrets.token_hex(4)
        if not any(f"-dc{nonce}" in b for b in bodies):
            return nonce


def _render_template(parts: Sequence[str | int], keys: Sequence[str]) -> str:
    """The shared body: literal parts as they are, each slot as its substitution tag."""
    return "".join(keys[part] if isinstance(part, int) else part for part in parts)


def _text_keys(
    html_keys: Sequence[str],
    html_values: Sequence[Sequence[str]],
    text_values: Sequence[Sequence[str]],
    prefix: str,
) -> list[str]:
    """The text part's tags: a text slot holding, in every message, what an HTML slot
    holds (a tracked link is in both parts) takes that slot's tag, so each value is sent
    once; the others get tags of their own."""
    html_columns = zip(*html_values, strict=True)  # per slot, its value in each message
    by_column = {column: key for key, column in zip(html_keys, html_columns, strict=True)}
    text_columns = zip(*text_values, strict=True)
    return [by_column.get(column, f"{prefix}{j}-") for j, column in enumerate(text_columns)]


def factor(
    bodies: Sequence[str], tokenize: Callable[[str], list[str]]
) -> tuple[list[str | int], list[list[str]]]:
    """Split ``bodies`` into a template shared by all and the values that differ.

    Returns ``parts`` (literal strings and slot numbers ``0..n-1``) and, per body, the
    ``n`` slot values: replacing slot ``i`` by ``values[b][i]`` rebuilds body ``b``
    exactly. Each body is aligned with the first (common runs found by comparing list
    slices, resynchronised on tokens unique in the first body); tokens of the first body
    matched in every body are anchors, and what lies between two anchors is literal when
    equal everywhere, else a slot. Linear in the total size for near-identical bodies.
    """
    tokens = [tokenize(b) for b in bodies]
    base = tokens[0]
    size = len(base)
    unique = _unique_positions(base)
    runs = [[(0, 0, size)] if k == 0 else _align(base, t, unique) for k, t in enumerate(tokens)]
    anchored = bytearray(b"\x01") * size
    cuts = {0, size}
    for body_runs in runs:
        covered = 0
        for i, _j, length in body_runs:
            anchored[covered:i] = bytes(i - covered)
            cuts.add(i)
            covered = i + length
        anchored[covered:size] = bytes(size - covered)
    # Literal stretches: anchored base tokens, cut wherever some body's mapping may jump.
    stretches: list[tuple[int, int]] = []
    start = None
    for x in range(size + 1):
        if x < size and anchored[x] and (start is None or x not in cuts):
            if start is None:
                start = x
            continue
        if start is not None:
            stretches.append((start, x))
            start = x if x < size and anchored[x] else None
    parts: list[str | int] = []
    values: list[list[str]] = [[] for _ in bodies]
    starts = [[i for i, _j, _n in body_runs] for body_runs in runs]
    literal: list[str] = []
    previous_end = None  # end (exclusive) of the previous stretch, in base positions
    for stretch in [*stretches, None]:
        gap = []
        for k, toks in enumerate(tokens):
            begin = 0 if previous_end is None else _locate(runs[k], starts[k], previous_end - 1) + 1
            end = len(toks) if stretch is None else _locate(runs[k], starts[k], stretch[0])
            gap.append("".join(toks[begin:end]))
        if all(g == gap[0] for g in gap):
            literal.append(gap[0])
        else:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(len(values[0]))
            for k, g in enumerate(gap):
                values[k].append(g)
        if stretch is not None:
            literal.append("".join(base[stretch[0] : stretch[1]]))
            previous_end = stretch[1]
    if literal:
        parts.append("".join(literal))
    return parts, values


def _unique_positions(tokens: Sequence[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for index, token in enumerate(tokens):
        if token in seen:
            repeated.add(token)
        else:
            seen[token] = index
    return {t: i for t, i in seen.items() if t not in repeated}


def _locate(runs: list[tuple[int, int, int]], starts: list[int], x: int) -> int:
    """Position in the body of anchored base position ``x``."""
    i, j, _length = runs[bisect.bisect_right(starts, x) - 1]
    return j + x - i


def _align(a: list[str], b: list[str], unique: Mapping[str, int]) -> list[tuple[int, int, int]]:
    """Equal runs ``(i, j, length)`` with ``a[i:i+length] == b[j:j+length]``, increasing."""
    tail = _common_suffix(a, b)
    end_a, end_b = len(a) - tail, len(b) - tail
    runs: list[tuple[int, int, int]] = []
    i = j = 0
    while i < end_a and j < end_b:
        length = _common_prefix(a, i, b, j, min(end_a - i, end_b - j))
        if length:
            runs.append((i, j, length))
            i += length
            j += length
            continue
        for j2 in range(j, end_b):
            i2 = unique.get(b[j2], -1)
            if i <= i2 < end_a:
                i, j = i2, j2
                break
        else:
            break
    if tail:
        runs.append((end_a, end_b, tail))
    return runs


def _common_prefix(a: list[str], i: int, b: list[str], j: int, limit: int) -> int:
    """Largest ``n <= limit`` with ``a[i:i+n] == b[j:j+n]``, galloping on slice compares."""
    good, step = 0, 1
    while good < limit:
        probe = min(limit, good + step)
        if a[i + good : i + probe] == b[j + good : j + probe]:
            good, step = probe, step * 2
        elif step == 1:
            break
        else:
            step = 1
    return good


def _common_suffix(a: list[str], b: list[str]) -> int:
    n, m = len(a), len(b)
    good, step, limit = 0, 1, min(n, m)
    while good < limit:
        probe = min(limit, good + step)
        if a[n - probe : n - good] == b[m - probe : m - good]:
            good, step = probe, step * 2
        elif step == 1:
            break
        else:
            step = 1
    return good
