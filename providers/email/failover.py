"""Failover between email providers, each behind a circuit breaker.

:class:`FailoverEmailProvider` is an :class:`~providers.email.base.EmailProvider` holding an
ordered list of members (``EMAIL_PROVIDERS=sendgrid,ses``). A batch goes to the first
member whose breaker lets it through; what that member surely did not take (a 5xx, a
refused connection, a member skipped because its breaker is open) goes to the next one.

* **Breaker.** ``threshold`` consecutive failed calls to a member (a transient error or
  a timeout; a rate limit is not a failure) open its breaker; after ``cooldown`` seconds
  one call is let through as a trial (half-open): success closes it, failure opens it
  again. Transitions are reported to ``on_event`` once, by the worker that made them.
* **Never two providers.** An outcome that may hide an acceptance (a read timeout, a
  connection closed after the request went) pins the message to that member: it is
  retried later through that member only, never through another (:func:`maybe_accepted`).
* **Recipients stay put.** A refusal (bad address, bounce, any permanent error) is the
  message's outcome: it never fails over, and a suppression it causes is shared (the app
  keeps suppressions per address, whichever provider reported them).

Breaker state and pins live in a :class:`StateStore`: Redis when the app has it (shared by
every worker), else this process's memory.
"""

from __future__ import annotations

import http.client
import json
import logging
import smtplib
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from providers.email.base import (
    MESSAGE_ID_KEY,
    BatchOutcome,
    EmailProvider,
    OutgoingEmail,
    SendResult,
)
from providers.errors import PermanentError, ProviderError, TransientError

log = logging.getLogger(__name__)

#: How long a message stays pinned to the member that may have accepted it: longer than
#: the outbox's whole retry schedule, and than a paused campaign usually waits.
PIN_SECONDS = 14 * 86400
#: Codes of transient errors that only ask us to slow down: not the provider failing.
RATE_LIMIT_CODES = frozenset(
    {
        "429",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
        "rate_limit_exceeded",
    }
)
NOT_TRIED = "not_tried"
BREAKER_OPEN = "breaker_open"

State = dict[str, Any]  # {"state": closed|open|half_open, "failures": int, "since": float}
Access = Literal["closed", "trial"] | None
T = TypeVar("T")
_CLOSED: State = {"state": "closed", "failures": 0, "since": 0.0}


@dataclass(frozen=True)
class BreakerEvent:
    """A member's breaker changed state: ``open``, ``half_open`` or ``closed``."""

    provider: str
    state: str
    reason: str
    at: datetime


# --- where the state lives -----------------------------------------------------------


class StateStore(Protocol):
    def update(self, name: str, change: Callable[[State], tuple[State, T]]) -> T:
        """Apply ``change`` to a member's breaker state atomically; its second value."""

    def pins(self, keys: Sequence[str]) -> dict[str, str]:
        """The member each of these message keys is pinned to, when it is."""

    def pin(self, keys: Iterable[str], member: str) -> None:
        """Pin these message keys to ``member`` for :data:`PIN_SECONDS`."""


class MemoryStore:
    """Breaker state and pins in this process (no Redis): each process learns alone."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, State] = {}
        self._pins: dict[str, tuple[str, float]] = {}
        self._clock = clock

    def update(self, name: str, change: Callable[[State], tuple[State, T]]) -> T:
        with self._lock:
            state, result = change(dict(self._states.get(name, _CLOSED)))
            self._states[name] = state
            return result

    def pins(self, keys: Sequence[str]) -> dict[str, str]:
        now = self._clock()
        with self._lock:
            found = {k: self._pins.get(k) for k in keys}
        return {k: v[0] for k, v in found.items() if v is not None and v[1] > now}

    def pin(self, keys: Iterable[str], member: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._pins) > 100_000:  # forget the expired ones now and then
                self._pins = {k: v for k, v in self._pins.items() if v[1] > now}
            for key in keys:
                self._pins[key] = (member, now + PIN_SECONDS)


class RedisStore:
    """Breaker state and pins in Redis, shared by every worker (optimistic transactions)."""

    def __init__(self, redis: Any, prefix: str = "decant:email-failover:") -> None:
        self.redis = redis
        self.prefix = prefix

    def update(self, name: str, change: Callable[[State], tuple[State, T]]) -> T:
        from redis.exceptions import WatchError

        key = f"{self.prefix}breaker:{name}"
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = json.loads(raw) if raw else dict(_CLOSED)
                    state, result = change(dict(current))
                    if state == current:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.set(key, json.dumps(state))
                    pipe.execute()
                    return result
                except WatchError:
                    continue  # another worker changed it meanwhile: decide again

    def pins(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        values = self.redis.mget([f"{self.prefix}pin:{k}" for k in keys])
        return {
            k: (v.decode() if isinstance(v, bytes) else str(v))
            for k, v in zip(keys, values, strict=True)
            if v is not None
        }

    def pin(self, keys: Iterable[str], member: str) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(f"{self.prefix}pin:{key}", member, ex=PIN_SECONDS)
            pipe.execute()


# --- the breaker -----------------------------------------------------------------------


class Breakers:
    """The breakers of a set of members, kept in a :class:`StateStore`."""

    def __init__(
        self,
        store: StateStore,
        *,
        threshold: int,
        cooldown: float,
        on_event: Callable[[BreakerEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.threshold = max(1, threshold)
        self.cooldown = max(0.0, cooldown)
        self.on_event = on_event
        self.clock = clock

    def access(self, name: str) -> Access:
        """``closed`` (go), ``trial`` (go: the one call of a half-open breaker) or None."""
        now = self.clock()

        def change(state: State) -> tuple[State, tuple[Access, str | None]]:
            if state["state"] == "closed":
                return state, ("closed", None)
            if now - float(state["since"]) < self.cooldown:
                return state, (None, None)  # open, or another worker's trial in progress
            event = "half_open" if state["state"] == "open" else None
            return {**state, "state": "half_open", "since": now}, ("trial", event)

        try:
            access, event = self.store.update(name, change)
        except Exception:  # noqa: BLE001 - state unreachable: keep sending in order
            log.exception("email provider %s: breaker state unavailable, calling it", name)
            return "closed"
        if event:
            self._report(name, event, f"trial call after {self.cooldown:g} s")
        return access

    def retry_after(self, name: str) -> float:
        """Seconds until a member's open breaker lets a trial through."""

        def change(state: State) -> tuple[State, float]:
            return state, max(1.0, float(state["since"]) + self.cooldown - self.clock())

        try:
            return self.store.update(name, change)
        except Exception:  # noqa: BLE001 - state unreachable: the whole cool-down
            log.exception("email provider %s: breaker state unavailable", name)
            return max(1.0, self.cooldown)

    def record(self, name: str, error: TransientError | None) -> None:
        """The outcome of a call: ``error`` when it failed (transiently), else None."""
        now = self.clock()

        def change(state: State) -> tuple[State, str | None]:
            if error is None:
                if state["state"] == "half_open":
                    return dict(_CLOSED), "closed"
                if state["state"] == "closed" and state["failures"]:
                    return {**state, "failures": 0}, None
                return state, None  # a call begun before another worker opened it
            failures = int(state["failures"]) + 1
            if state["state"] == "half_open" or (
                state["state"] == "closed" and failures >= self.threshold
            ):
                return {"state": "open", "failures": failures, "since": now}, "open"
            return {**state, "failures": failures}, None

        try:
            event = self.store.update(name, change)
        except Exception:  # noqa: BLE001 - the messages' outcomes matter more than the count
            log.exception("email provider %s: breaker state unavailable, call not counted", name)
            return
        if event == "open":
            self._report(name, event, f"{error}"[:500])
        elif event == "closed":
            self._report(name, event, "trial call succeeded")

    def _report(self, name: str, state: str, reason: str) -> None:
        log.warning("email provider %s: breaker %s (%s)", name, state, reason)
        if self.on_event is not None:
            try:
                self.on_event(BreakerEvent(name, state, reason, datetime.now(UTC)))
            except Exception:  # noqa: BLE001 - a lost log line must not stop sending
                log.exception("recording the breaker event of %s failed", name)


# --- which failures may hide an acceptance -----------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return seen


def _never_reached(error: BaseException) -> bool:
    """A failure before the request reached the provider: no connection, or urllib's
    failure while sending it (it raises URLError then, and the raw error on reading)."""
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return True
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    # requests/urllib3 and botocore, by name: no import of SDKs this module does not need.
    return bool(
        names & {"ConnectTimeout", "NewConnectionError", "ConnectTimeoutError"}
        or "EndpointConnectionError" in names
    )


def _transport(error: BaseException) -> bool:
    """A failure of the connection (not an answer of the provider)."""
    if isinstance(error, urllib.error.HTTPError | smtplib.SMTPResponseException):
        return False  # an HTTP status or an SMTP reply: the provider answered
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, OSError | http.client.HTTPException) or "BotoCoreError" in names


def maybe_accepted(error: TransientError) -> bool:
    """Whether the provider may have taken the message despite ``error``: the connection
    failed after the request went (a read timeout, a reset, a closed connection). An
    answer (5xx, 429, an SMTP 4xx reply) or a failure to connect says it did not."""
    if error.code in (NOT_TRIED, BREAKER_OPEN):
        return False
    causes = _causes(error)
    if any(_never_reached(c) for c in causes):
        return False
    return any(_transport(c) for c in causes)


def rate_limited(error: TransientError) -> bool:
    """The provider asks us to slow down: not a failure of it."""
    return str(error.code or "") in RATE_LIMIT_CODES


# --- the adapter -------------------------------------------------------------------------


def message_key(message: OutgoingEmail) -> str | None:
    """What pins a message: its idempotency key, else the app's message id."""
    return message.idempotency_key or message.metadata.get(MESSAGE_ID_KEY) or None


class FailoverEmailProvider(EmailProvider):
    """Sends through ``members`` in order of preference, each behind a breaker.

    Each :class:`SendResult` names the member that sent it (``provider``), and so does
    each error (``provider``), so the app records which provider sent what."""

    name = "failover"
    #: Tells the delivery engine that each outcome names the member behind it.
    routes = True
    process_safe = False  # the breaker state of a process of its own would be its own

    def __init__(self, members: Sequence[EmailProvider], breakers: Breakers) -> None:
        if len(members) < 2:
            raise ValueError("failover needs at least two email providers")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"email providers listed twice: {', '.join(names)}")
        self.members = list(members)
        self.breakers = breakers
        self.max_batch_size = max(m.max_batch_size for m in members)
        self.background_safe = all(getattr(m, "background_safe", True) for m in members)

    def send(self, message: OutgoingEmail) -> SendResult:
        [outcome] = self.send_batch([message])
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        """One outcome per message. Slots not sent carry the error of the member that
        last had them (its name in ``provider``), or a ``breaker_open`` TransientError
        when every member they may use is open."""
        self.check_batch_size(messages)
        keys = [message_key(m) for m in messages]
        try:
            pins = self.breakers.store.pins([k for k in keys if k])
        except Exception as exc:  # noqa: BLE001 - Redis down: which member may send is unknown
            raise TransientError(
                f"failover state unavailable: {exc}", code="state", provider=self.name
            ) from exc
        results: list[SendResult | ProviderError | None] = [None] * len(messages)
        for member in self.members:
            pending = [
                i
                for i, r in enumerate(results)
                if (r is None or _may_move(r))
                and pins.get(keys[i] or "", member.name) == member.name
            ]
            if not pending:
                continue
            if self.breakers.access(member.name) is None:
                skipped = self._skipped(member)
                held = replace_retry_after(skipped, None)
                for i in pending:
                    # A pinned message waits with the outbox's backoff (hours, in all),
                    # not the cool-down: its attempts must outlast an outage.
                    results[i] = results[i] or (held if (keys[i] or "") in pins else skipped)
                continue
            outcomes = self._call(member, [messages[i] for i in pending])
            uncertain: list[str] = []
            for i, outcome in zip(pending, outcomes, strict=True):
                results[i] = outcome
                if isinstance(outcome, TransientError) and maybe_accepted(outcome) and keys[i]:
                    uncertain.append(keys[i] or "")
            if uncertain:
                pins.update(dict.fromkeys(uncertain, member.name))
                try:
                    self.breakers.store.pin(uncertain, member.name)
                except Exception:  # noqa: BLE001 - Redis down between two calls
                    log.exception("pinning %d messages to %s failed", len(uncertain), member.name)
                    _hold(results, keys, set(uncertain), member.name)
        return [r or _pinned_elsewhere(keys[i], pins) for i, r in enumerate(results)]

    def _call(self, member: EmailProvider, messages: list[OutgoingEmail]) -> BatchOutcome:
        """Send through one member in its own batch sizes, stopping at its first failure
        (the rest: ``not_tried``); records the call on its breaker."""
        outcomes: BatchOutcome = []
        failure: TransientError | None = None
        size = member.max_batch_size
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            try:
                answer = member.send_batch(chunk)
            except TransientError as exc:
                answer = [exc] * len(chunk)
            except PermanentError as exc:  # the request as a whole was refused
                answer = [_whole_request(exc, len(chunk))] * len(chunk)
            outcomes += [_named(r, member.name) for r in answer]
            failure = next(
                (r for r in answer if isinstance(r, TransientError) and not rate_limited(r)),
                None,
            )
            if failure is not None:
                break
        if len(outcomes) < len(messages):
            not_tried = TransientError(
                "not tried after the provider failed", code=NOT_TRIED, provider=member.name
            )
            outcomes += [not_tried] * (len(messages) - len(outcomes))
        self.breakers.record(member.name, failure)
        return outcomes

    def _skipped(self, member: EmailProvider) -> TransientError:
        wait = self.breakers.retry_after(member.name)
        return TransientError(
            "circuit breaker open", code=BREAKER_OPEN, provider=member.name, retry_after=wait
        )

    def close(self) -> None:
        for member in self.members:
            member.close()


def _pinned_elsewhere(key: str | None, pins: dict[str, str]) -> TransientError:
    """The outcome of a message pinned to a member no longer configured: it waits (and
    fails once out of attempts) rather than risk a second provider sending it."""
    member = pins.get(key or "", "?")
    return TransientError(
        f"may have been sent by {member}, which is no longer configured", code="pinned"
    )


def _hold(
    results: list[SendResult | ProviderError | None],
    keys: list[str | None],
    unpinned: set[str],
    member: str,
) -> None:
    """Messages ``member`` may have sent whose pin could not be stored: failed, to be
    checked by hand (its event webhooks will tell), rather than retried and maybe sent
    by another provider."""
    for index, key in enumerate(keys):
        if key in unpinned:
            results[index] = PermanentError(
                f"{member} may have sent this message (its answer was lost) and the "
                "failover state could not record it: not retried, to avoid a duplicate",
                code="unconfirmed",
                provider=member,
            )


def replace_retry_after(error: TransientError, retry_after: float | None) -> TransientError:
    return TransientError(
        error.message, code=error.code, provider=error.provider, retry_after=retry_after
    )


def _may_move(outcome: SendResult | ProviderError) -> bool:
    """Whether a slot may still go through a later member: it surely was not sent."""
    return (
        isinstance(outcome, TransientError)
        and not rate_limited(outcome)
        and not maybe_accepted(outcome)
    )


def _named(outcome: SendResult | ProviderError, member: str) -> SendResult | ProviderError:
    if isinstance(outcome, SendResult):
        return replace(outcome, provider=member)
    if not outcome.provider:
        outcome.provider = member
    return outcome


def _whole_request(error: PermanentError, size: int) -> PermanentError:
    """A refusal of a whole request as each message's outcome: one that would suppress
    an address cannot say whose when the request held several."""
    if not error.suppress or size <= 1:
        return error
    return PermanentError(error.message, code=error.code, provider=error.provider)
