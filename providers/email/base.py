"""What every email adapter takes and returns."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from types import TracebackType
from typing import Any

from providers.errors import (
    AccountError,
    PermanentError,
    ProviderError,
    TransientError,
    parse_retry_after,
)

# Metadata travels as Resend tags and SES EmailTags, which only take these characters.
_METADATA_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field name: printable ASCII but ":"

#: The metadata key under which the app puts its own message id; webhook parsers read it.
MESSAGE_ID_KEY = "message_id"


@dataclass(frozen=True, eq=False)
class MergeLayout:
    """Bodies shared by messages made from one template: literal text and numbered
    fields. A field may appear in both parts, or several times in one."""

    html: tuple[str | int, ...]
    text: tuple[str | int, ...]

    def __reduce__(self) -> tuple[Any, ...]:
        return (MergeLayout, (self.html, self.text))  # not the cached fillers

    @cached_property
    def fill_html(self) -> Callable[[Sequence[str]], str]:
        """The HTML part for a message's values."""
        return _filler(self.html)

    @cached_property
    def fill_text(self) -> Callable[[Sequence[str]], str]:
        """The text part for a message's values."""
        return _filler(self.text)


def _filler(parts: tuple[str | int, ...]) -> Callable[[Sequence[str]], str]:
    """A function joining ``parts`` with each field number replaced by its value: a copy
    of the parts with the fields' places overwritten, then joined (half the time of
    testing every part's type per message)."""
    template = list(parts)
    places = tuple((i, p) for i, p in enumerate(parts) if p.__class__ is int)

    def fill(values: Sequence[str]) -> str:
        buffer = template.copy()
        for place, field_number in places:
            buffer[place] = values[field_number]
        return "".join(buffer)  # type: ignore[arg-type]

    return fill


class Merge:
    """One message's bodies: a shared :class:`MergeLayout` filled with its own values."""

    __slots__ = ("layout", "values", "html", "text")

    def __init__(self, layout: MergeLayout, values: Sequence[str]) -> None:
        self.layout = layout
        self.values = values = tuple(values)
        self.html = layout.fill_html(values)
        self.text = layout.fill_text(values)

    def holds(self, html: str, text: str) -> bool:
        """Whether these are the bodies made here (the very strings: no comparison)."""
        return html is self.html and text is self.text

    def __reduce__(self) -> tuple[Any, ...]:
        return (Merge, (self.layout, self.values))  # the bodies are made again


@dataclass(slots=True)
class OutgoingEmail:
    """One email to one recipient, rendered already (treat it as read-only: not frozen
    because a frozen dataclass costs three times as much to make, per recipient).

    ``headers`` are extra headers such as List-Unsubscribe and List-Unsubscribe-Post.
    ``idempotency_key`` is stable per message, for providers that take one. ``metadata``
    (our message id under :data:`MESSAGE_ID_KEY`...) goes to the provider so its webhooks
    carry it back; keys and values are limited to ``[A-Za-z0-9_-]{1,256}`` because Resend
    tags and SES tags allow nothing else.
    """

    to: str
    from_email: str
    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    reply_to: str | None = None
    from_name: str | None = None
    idempotency_key: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: Optional hint for batching adapters: the message made from a layout it shares with
    #: other messages of the batch (a campaign's template) and its own field values. It
    #: is used only while it holds exactly this message's ``html`` and ``text``.
    merge: Merge | None = field(default=None, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled without its bodies when its merge hint holds them (the values are a
        fraction of the size): for a sender process (:mod:`providers.sender`)."""
        values = tuple(getattr(self, name) for name in _FIELDS)
        merge = self.merge
        if merge is None or not merge.holds(self.html, self.text):
            return (OutgoingEmail, values)
        return (_from_merge, values[:_HTML] + values[_HTML + 2 :])

    def __post_init__(self) -> None:
        for key, value in self.metadata.items():
            if not (_valid_metadata_key(key) and _METADATA_TOKEN.fullmatch(value)):
                raise ValueError(
                    f"metadata {key!r}={value!r}: keys and values must match [A-Za-z0-9_-]{{1,256}}"
                )
        for name in self.headers:
            if not _valid_header_name(name):
                raise ValueError(f"invalid header name {name!r}")
        for value in (self.to, self.from_email, self.subject, self.reply_to, self.from_name):
            if value is not None and ("\r" in value or "\n" in value):
                raise ValueError(f"line break in address or subject: {value!r}")
        for value in self.headers.values():
            if "\r" in value or "\n" in value:
                raise ValueError(f"line break in header: {value!r}")


_FIELDS = tuple(f.name for f in fields(OutgoingEmail))
_HTML = _FIELDS.index("html")  # "text" follows it


def _from_merge(*values: Any) -> OutgoingEmail:
    """An :class:`OutgoingEmail` whose bodies are its merge hint's (``values`` are its
    fields but ``html`` and ``text``; see ``__reduce__``). It was checked when made, in
    the process that pickled it: not again."""
    merge = values[-1]
    message = object.__new__(OutgoingEmail)
    every = (*values[:_HTML], merge.html, merge.text, *values[_HTML:])
    for name, value in zip(_FIELDS, every, strict=True):
        object.__setattr__(message, name, value)
    return message


# A campaign's messages repeat the same few names: each is checked once.
@lru_cache(maxsize=256)
def _valid_header_name(name: str) -> bool:
    return _HEADER_NAME.fullmatch(name) is not None


@lru_cache(maxsize=256)
def _valid_metadata_key(key: str) -> bool:
    return _METADATA_TOKEN.fullmatch(key) is not None


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; its id, when it gives one per message.
    ``provider`` names the provider that sent it when an adapter routes between several
    (:mod:`providers.email.failover`)."""

    provider_message_id: str | None
    provider: str | None = None


BatchOutcome = list[SendResult | ProviderError]


class EmailProvider(ABC):
    """Sends email through one provider, or raises an error from :mod:`providers.errors`.

    ``max_batch_size`` is the most messages :meth:`send_batch` takes in one call.
    """

    name: str
    max_batch_size: int
    #: Whether the app may call this adapter from a worker thread (one call at a time,
    #: no app context): true for adapters that only talk to their provider.
    background_safe: bool = True
    #: Whether the adapter pickles as its settings, so that a sender process
    #: (:mod:`providers.sender`) can make its own copy and send from there.
    process_safe: bool = False

    @abstractmethod
    def send(self, message: OutgoingEmail) -> SendResult:
        """Hand one message to the provider."""

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        """Send up to ``max_batch_size`` messages; one outcome per message, same order.

        Raises :class:`TransientError` when nothing was sent and the whole batch should be
        retried (429, 5xx, timeout, connection), and a :class:`PermanentError` when the
        request as a whole was refused (an :class:`AccountError` when the account or its
        settings are the reason: credentials, unverified domain...). Otherwise a slot
        holds a :class:`SendResult`, a :class:`PermanentError` for a message refused on
        its own, or a :class:`TransientError` for a message deferred on its own or not
        sent because the provider failed after part of the batch had gone (retry only
        those slots).

        The default sends one by one; adapters with a bulk call override it.
        """
        self.check_batch_size(messages)
        return sequential_batch(self.send, messages)

    def stage_batch(self, messages: Sequence[OutgoingEmail]) -> Any:
        """The part of :meth:`send_batch` that needs no network (building and encoding
        the requests), for :meth:`send_staged` to send later: the delivery engine stages
        a batch while the one before it is still being recorded. The default stages
        nothing."""
        return messages

    def send_staged(self, staged: Any) -> BatchOutcome:
        """Send what :meth:`stage_batch` built; the same outcomes as :meth:`send_batch`."""
        return self.send_batch(staged)

    def check_batch_size(self, messages: Sequence[OutgoingEmail]) -> None:
        if len(messages) > self.max_batch_size:
            raise ValueError(
                f"{self.name}: batch of {len(messages)} exceeds max_batch_size "
                f"{self.max_batch_size}"
            )

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the provider may be used again afterwards."""

    def __enter__(self) -> EmailProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def sequential_batch(
    send: Callable[[OutgoingEmail], SendResult],
    messages: Sequence[OutgoingEmail],
    *,
    stops_batch: Callable[[TransientError], bool] = lambda exc: True,
) -> BatchOutcome:
    """Call ``send`` per message, applying the :meth:`EmailProvider.send_batch` contract.

    A transient failure for which ``stops_batch`` holds (the default: all of them), and
    an :class:`AccountError` (every later message would meet it too), end the loop: it
    is raised when nothing went yet, else it fills the failed slot and every later one.
    Other failures fill their own slot.
    """
    results: BatchOutcome = []
    for index, message in enumerate(messages):
        try:
            results.append(send(message))
        except TransientError as exc:
            if not stops_batch(exc):
                results.append(exc)
                continue
            if not any(isinstance(r, SendResult) for r in results):
                raise
            results.extend([exc] * (len(messages) - index))
            break
        except AccountError as exc:
            if not any(isinstance(r, SendResult) for r in results):
                raise
            results.extend([exc] * (len(messages) - index))
            break
        except PermanentError as exc:
            results.append(exc)
    return results


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float) -> float | None:
    """The wait a provider asked for: Retry-After (seconds or HTTP date), else a rate-limit
    reset header holding an epoch time (X-RateLimit-Reset, ratelimit-reset as seconds)."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    asked = parse_retry_after(lower.get("retry-after"), now=datetime.fromtimestamp(now, UTC))
    if asked is not None:
        return asked
    reset = lower.get("x-ratelimit-reset") or lower.get("ratelimit-reset")
    if reset:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        # Epoch seconds (SendGrid) or a delay in seconds (IETF draft ratelimit-reset).
        return max(0.0, seconds - now) if seconds > 1_000_000_000 else max(0.0, seconds)
    return None
