"""Failover between email providers, through the official SDKs to the local fakes:
SendGrid's SDK to the SendGrid fake, boto3 to moto's SES behind its recording proxy.
The breaker's clock is the test's, so cool-downs pass without waiting."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from providers.email import OutgoingEmail, SendResult
from providers.email.failover import (
    BREAKER_OPEN,
    BreakerEvent,
    Breakers,
    FailoverEmailProvider,
    MemoryStore,
    RedisStore,
    StateStore,
    maybe_accepted,
)
from providers.email.sendgrid import SendGridEmailProvider
from providers.email.ses import SesEmailProvider
from providers.errors import PermanentError, TransientError
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, FakeSes

SENDER = "news@decant.test"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def ses_fake() -> Iterator[FakeSes]:
    with FakeSes() as fake:
        fake.verify(SENDER)
        yield fake


@pytest.fixture
def ses(ses_fake: FakeSes) -> Iterator[FakeSes]:
    ses_fake.received.clear()
    ses_fake.clear_script()
    yield ses_fake


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(max_hang=3.0) as fake:
        yield fake


def ses_adapter(fake: FakeSes, timeout: float = 5) -> SesEmailProvider:
    return SesEmailProvider(
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        endpoint_url=fake.url,
        timeout=timeout,
    )


def failover(
    sendgrid_url: str,
    ses: FakeSes,
    *,
    threshold: int = 2,
    cooldown: float = 60,
    timeout: float = 5,
    ses_timeout: float = 5,
    store: StateStore | None = None,
    clock: Clock | None = None,
    events: list[BreakerEvent] | None = None,
) -> FailoverEmailProvider:
    clock = clock or Clock()
    breakers = Breakers(
        store or MemoryStore(clock),
        threshold=threshold,
        cooldown=cooldown,
        on_event=events.append if events is not None else None,
        clock=clock,
    )
    primary = SendGridEmailProvider(FakeSendGrid().api_key, base_url=sendgrid_url, timeout=timeout)
    return FailoverEmailProvider([primary, ses_adapter(ses, ses_timeout)], breakers)


def messages(*tags: str) -> list[OutgoingEmail]:
    return [
        OutgoingEmail(
            to=f"{tag}@example.com",
            from_email=SENDER,
            subject=f"Hello {tag}",
            html=f"<p>Hello {tag}</p>",
            text=f"Hello {tag}",
            idempotency_key=f"eml_{tag}",
            metadata={"message_id": f"eml_{tag}"},
        )
        for tag in tags
    ]


def providers_of(outcomes: list[object]) -> list[str | None]:
    return [getattr(o, "provider", None) for o in outcomes]


def sendgrid_to(fake: FakeSendGrid) -> list[str]:
    return [m.to for m in fake.received]


def ses_to(fake: FakeSes) -> list[str]:
    return [to for m in fake.received for to in m.to]


def test_breaker_opens_after_consecutive_5xx_and_ses_takes_over(sendgrid, ses):
    events: list[BreakerEvent] = []
    sender = failover(sendgrid.url, ses, threshold=2, events=events)
    sendgrid.fail_next(5, status=503)

    first = sender.send_batch(messages("a1", "a2"))
    assert all(isinstance(o, SendResult) for o in first)
    assert providers_of(first) == ["ses", "ses"]  # 503: SendGrid took nothing, SES did
    assert events == []  # one failure is not enough
    second = sender.send_batch(messages("b1"))
    assert providers_of(second) == ["ses"]
    assert [(e.provider, e.state) for e in events] == [("sendgrid", "open")]
    assert "503" in events[0].reason or "Unavailable" in events[0].reason

    calls = sendgrid.request_count
    third = sender.send_batch(messages("c1", "c2"))
    assert providers_of(third) == ["ses", "ses"]
    assert sendgrid.request_count == calls  # open: SendGrid is not even asked
    assert sendgrid_to(sendgrid) == []
    assert sorted(ses_to(ses)) == sorted(f"{t}@example.com" for t in ("a1", "a2", "b1", "c1", "c2"))


def test_half_open_trial_that_succeeds_closes_the_breaker(sendgrid, ses):
    clock, events = Clock(), []
    sender = failover(sendgrid.url, ses, threshold=1, cooldown=30, clock=clock, events=events)
    sendgrid.fail_next(1, status=500)
    assert providers_of(sender.send_batch(messages("x1"))) == ["ses"]

    clock.now += 29
    assert providers_of(sender.send_batch(messages("x2"))) == ["ses"]  # still cooling down
    clock.now += 2
    trial = sender.send_batch(messages("x3", "x4"))  # SendGrid answers again
    assert providers_of(trial) == ["sendgrid", "sendgrid"]
    assert providers_of(sender.send_batch(messages("x5"))) == ["sendgrid"]
    assert [(e.provider, e.state) for e in events] == [
        ("sendgrid", "open"),
        ("sendgrid", "half_open"),
        ("sendgrid", "closed"),
    ]
    assert sorted(sendgrid_to(sendgrid)) == ["x3@example.com", "x4@example.com", "x5@example.com"]


def test_half_open_trial_that_fails_opens_the_breaker_again(sendgrid, ses):
    clock, events = Clock(), []
    sender = failover(sendgrid.url, ses, threshold=1, cooldown=30, clock=clock, events=events)
    sendgrid.fail_next(2, status=503)
    sender.send_batch(messages("y1"))
    clock.now += 31
    assert providers_of(sender.send_batch(messages("y2"))) == ["ses"]  # the trial failed over
    calls = sendgrid.request_count
    assert providers_of(sender.send_batch(messages("y3"))) == ["ses"]
    assert sendgrid.request_count == calls  # open again for a new cool-down
    assert [e.state for e in events] == ["open", "half_open", "open"]


def test_a_refused_recipient_never_fails_over(sendgrid, ses):
    sender = failover(sendgrid.url, ses, threshold=1)
    sendgrid.reject("bad@example.com")
    batch = messages("good", "bad")
    outcome = sender.send_batch(batch)

    assert isinstance(outcome[0], SendResult) and outcome[0].provider == "sendgrid"
    refusal = outcome[1]
    assert isinstance(refusal, PermanentError) and refusal.suppress
    assert refusal.provider == "sendgrid"
    assert ses_to(ses) == []  # never handed to SES
    assert sendgrid_to(sendgrid) == ["good@example.com"]
    # A refusal is an answer: the breaker stays closed (threshold 1).
    assert providers_of(sender.send_batch(messages("next"))) == ["sendgrid"]


def test_a_whole_request_refused_is_not_failed_over(sendgrid, ses):
    sender = failover(sendgrid.url, ses, threshold=1)
    sendgrid.fail_next(1, status=400)
    [outcome] = sender.send_batch(messages("solo"))
    assert isinstance(outcome, PermanentError) and outcome.provider == "sendgrid"
    assert ses_to(ses) == []


def test_accepted_then_timeout_is_never_sent_by_another_provider(sendgrid, ses):
    """SendGrid takes the request, but its answer comes after our timeout: the outcome is
    unknown, so the messages are pinned to SendGrid: held while its breaker is open,
    retried through it alone once it half-opens, never through SES."""
    clock, events = Clock(), []
    sender = failover(
        sendgrid.url, ses, threshold=1, cooldown=30, timeout=0.5, clock=clock, events=events
    )
    sendgrid.accept_then_hang(1, seconds=2.0)
    # one message: a message without shared pieces is its own SendGrid request
    batch = messages("t1")
    first = sender.send_batch(batch)
    assert all(isinstance(o, TransientError) for o in first)
    assert providers_of(first) == ["sendgrid"]
    assert all(maybe_accepted(o) for o in first)  # type: ignore[arg-type]
    assert sorted(sendgrid_to(sendgrid)) == ["t1@example.com"]
    assert [e.state for e in events] == ["open"]

    held = sender.send_batch(batch)  # retried while SendGrid's breaker is open
    assert [getattr(o, "code", None) for o in held] == [BREAKER_OPEN]
    assert providers_of(held) == ["sendgrid"]
    assert [getattr(o, "retry_after", 0) for o in held] == [None]  # the outbox's backoff
    fresh = sender.send_batch(messages("t3"))  # a new message goes to SES meanwhile
    assert providers_of(fresh) == ["ses"]

    clock.now += 31
    retried = sender.send_batch(batch)
    assert providers_of(retried) == ["sendgrid"]
    assert all(isinstance(o, SendResult) for o in retried)
    assert ses_to(ses) == ["t3@example.com"]  # t1 never went through SES


def test_unreachable_primary_fails_over_at_once(ses):
    """A refused connection means the request never left: safe to send elsewhere."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = failover(f"http://127.0.0.1:{port}", ses, threshold=3)
    outcome = sender.send_batch(messages("u1", "u2"))
    assert providers_of(outcome) == ["ses", "ses"]
    assert all(isinstance(o, SendResult) for o in outcome)


def test_rate_limit_neither_fails_over_nor_opens_the_breaker(sendgrid, ses):
    events: list[BreakerEvent] = []
    sender = failover(sendgrid.url, ses, threshold=1, events=events)
    sendgrid.fail_next(1, status=429, retry_after=7)
    [outcome] = sender.send_batch(messages("r1"))
    assert isinstance(outcome, TransientError) and outcome.retry_after == 7
    assert outcome.provider == "sendgrid"
    assert ses_to(ses) == [] and events == []
    assert providers_of(sender.send_batch(messages("r1"))) == ["sendgrid"]


def test_ses_timeout_after_sendgrid_opened_pins_to_ses(sendgrid, ses):
    """The pin follows whichever provider may hold the message, the second one too."""
    clock = Clock()
    sender = failover(sendgrid.url, ses, threshold=1, cooldown=30, ses_timeout=0.5, clock=clock)
    sendgrid.fail_next(1, status=503)
    ses.hang_next(1, seconds=1.5)
    [outcome] = sender.send_batch(messages("p1"))
    assert isinstance(outcome, TransientError) and outcome.provider == "ses"
    assert maybe_accepted(outcome)
    clock.now += 31  # SendGrid half-opens: the message still goes to SES only
    [again] = sender.send_batch(messages("p1"))
    assert isinstance(again, SendResult) and again.provider == "ses"
    assert sendgrid_to(sendgrid) == []


@pytest.mark.redis
def test_breaker_state_and_pins_are_shared_through_redis(sendgrid, ses, redis_url):
    """Two workers: one opens SendGrid's breaker and pins an unsure message; the other
    sees both at once."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    prefix = f"test-failover-{os.getpid()}:"
    clock = Clock()
    try:
        one = failover(sendgrid.url, ses, threshold=1, store=RedisStore(conn, prefix), clock=clock)
        two = failover(sendgrid.url, ses, threshold=1, store=RedisStore(conn, prefix), clock=clock)
        for member in (one.members[0], two.members[0]):
            member.timeout = 0.5  # type: ignore[attr-defined]
        sendgrid.accept_then_hang(1, seconds=2.0)
        batch = messages("w1")
        assert isinstance(one.send_batch(batch)[0], TransientError)

        calls = sendgrid.request_count
        [held] = two.send_batch(batch)
        assert isinstance(held, TransientError) and held.code == BREAKER_OPEN
        assert providers_of(two.send_batch(messages("w2"))) == ["ses"]
        assert sendgrid.request_count == calls
        assert ses_to(ses) == ["w2@example.com"]
    finally:
        for key in conn.scan_iter(f"{prefix}*"):
            conn.delete(key)


class BrokenStore(MemoryStore):
    """State that cannot be written (Redis gone between two calls)."""

    def update(self, name, change):  # type: ignore[no-untyped-def]
        raise ConnectionError("redis down")

    def pin(self, keys, member):  # type: ignore[no-untyped-def]
        raise ConnectionError("redis down")


def test_an_unsure_outcome_that_cannot_be_pinned_is_failed_not_retried(sendgrid, ses):
    """Without a stored pin a retry could go elsewhere: the message fails with the reason
    instead (its provider's webhooks will tell whether it went); sending goes on."""
    sender = failover(sendgrid.url, ses, timeout=0.5, store=BrokenStore())
    sendgrid.accept_then_hang(1, seconds=2.0)
    [unsure] = sender.send_batch(messages("k1"))
    assert isinstance(unsure, PermanentError) and unsure.code == "unconfirmed"
    assert unsure.provider == "sendgrid" and not unsure.suppress
    assert ses_to(ses) == []
    assert providers_of(sender.send_batch(messages("k2"))) == ["sendgrid"]
