"""What every email adapter takes and returns."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType

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
    #: Optional hint for batching adapters: ``html`` and ``text`` as the pieces their
    #: template's render yielded (literal text and values, in order); messages of one
    #: template have as many pieces, so an adapter sending a shared body (SendGrid) sends
    #: the pieces that differ per recipient as substitutions. Joined, they are exactly
    #: ``html`` and ``text``.
    parts: tuple[tuple[str, ...], tuple[str, ...]] | None = field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for key, value in self.metadata.items():
            if not (_valid_metadata_key(key) and _METADATA_TOKEN.fullmatch(value)):
                raise ValueError(
                    f"metadata {key!r}={value!r}: keys and values must match [A-Za-z0-9_-]{{1,256}}"
                )
        for name in self.headers:
            if not _valid_header_name(name):
                raise ValueError(f"invalid header name {name!r}")
        fields: tuple[str | None, ...] = (
            self.to, self.from_email, self.subject, self.reply_to, self.from_name
        )  # fmt: skip
        for field_value in fields:
            if field_value is not None and ("\r" in field_value or "\n" in field_value):
                raise ValueError(f"line break in address or subject: {field_value!r}")
        for value in self.headers.values():
            if "\r" in value or "\n" in value:
                raise ValueError(f"line break in header: {value!r}")


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
