"""SES adapter through boto3 (sesv2) against moto's server behind a recording proxy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from providers.email.base import OutgoingEmail, SendResult
from providers.email.ses import SesEmailProvider
from providers.errors import AccountError, AuthenticationError, PermanentError, TransientError
from tests.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, FakeSes

SENDER = "news@decant.test"
UNSUB = {
    "List-Unsubscribe": "<https://decant.test/u/tok>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture(scope="module")
def ses() -> Iterator[FakeSes]:
    with FakeSes() as fake:
        fake.verify(SENDER)
        yield fake


@pytest.fixture
def fake(ses: FakeSes) -> Iterator[FakeSes]:
    yield ses
    ses.received.clear()
    ses.clear_script()


def make_provider(fake: FakeSes, **kwargs: object) -> SesEmailProvider:
    options: dict[str, object] = {"timeout": 2, "max_batch_size": 10, **kwargs}
    return SesEmailProvider(
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        endpoint_url=fake.url,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def provider(fake: FakeSes) -> Iterator[SesEmailProvider]:
    adapter = make_provider(fake, configuration_set="decant-events")
    yield adapter
    adapter.close()


def message(i: int, *, to: str | None = None, sender: str = SENDER) -> OutgoingEmail:
    return OutgoingEmail(
        to=to or f"user{i}@example.test",
        from_email=sender,
        from_name="Decant Wines",
        subject=f"Spring list {i}",
        html=f"<p>Hello {i}</p>",
        text=f"Hello {i}",
        headers=UNSUB,
        reply_to="rep@decant.test",
        metadata={"message_id": str(i)},
    )


def test_send_passes_headers_tags_and_configuration_set(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    result = provider.send(message(1))

    [mail] = fake.received
    assert result == SendResult(mail.message_id)
    assert mail.to == ["user1@example.test"]
    assert mail.from_ == "Decant Wines <news@decant.test>"
    assert (mail.subject, mail.html, mail.text) == ("Spring list 1", "<p>Hello 1</p>", "Hello 1")
    assert mail.headers == UNSUB
    assert mail.tags == {"message_id": "1"}
    assert mail.reply_to == ["rep@decant.test"]
    assert mail.configuration_set == "decant-events"


def test_batch_sends_each_message(fake: FakeSes, provider: SesEmailProvider) -> None:
    messages = [message(i) for i in range(4)]
    results = provider.send_batch(messages)
    ids = {mail.to[0]: mail.message_id for mail in fake.received}
    assert results == [SendResult(ids[m.to]) for m in messages]


def test_default_batch_size_is_one_call(fake: FakeSes) -> None:
    provider = SesEmailProvider(
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        endpoint_url=fake.url,
    )
    assert provider.max_batch_size == 1
    with pytest.raises(ValueError):
        provider.send_batch([message(1), message(2)])


def test_invalid_recipient_is_permanent_and_suppressed(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    with pytest.raises(PermanentError) as caught:
        provider.send(message(1, to="no-domain"))  # moto: InvalidParameterValue
    assert caught.value.code == "InvalidParameterValue"
    assert caught.value.suppress and caught.value.reason == "bounce"

    fake.fail_next(status=400)  # BadRequestException "Illegal address"
    with pytest.raises(PermanentError) as caught:
        provider.send(message(2))
    assert caught.value.suppress
    assert fake.received == []


def test_unverified_sender_is_permanent_but_not_suppressed(provider: SesEmailProvider) -> None:
    with pytest.raises(PermanentError) as caught:
        provider.send(message(1, sender="someone@elsewhere.test"))
    assert caught.value.code == "MessageRejected"
    assert not caught.value.suppress


def test_batch_keeps_going_past_a_refused_message(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    messages = [message(0), message(1, to="no-domain"), message(2)]
    results = provider.send_batch(messages)
    assert isinstance(results[0], SendResult)
    assert isinstance(results[1], PermanentError) and results[1].suppress
    assert isinstance(results[2], SendResult)
    assert [mail.to[0] for mail in fake.received] == ["user0@example.test", "user2@example.test"]


def test_throttling_is_transient_with_retry_after(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    fake.fail_next(status=429, retry_after=2)
    with pytest.raises(TransientError) as caught:
        provider.send(message(1))
    assert caught.value.code == "TooManyRequestsException"
    assert caught.value.retry_after == 2.0


def test_throttled_mid_batch_marks_the_rest_transient(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    fake.fail_next(status=429, after=1)
    results = provider.send_batch([message(0), message(1), message(2)])
    assert isinstance(results[0], SendResult)
    assert all(isinstance(r, TransientError) for r in results[1:])
    assert len(fake.received) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    fake: FakeSes, provider: SesEmailProvider, status: int
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send(message(1))
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send_batch([message(2), message(3)])
    assert fake.received == []


def test_refused_credentials_are_an_authentication_error(
    fake: FakeSes, provider: SesEmailProvider
) -> None:
    fake.fail_next(status=403)
    with pytest.raises(AuthenticationError) as caught:
        provider.send(message(1))
    assert caught.value.code == "UnrecognizedClientException"
    fake.fail_next(status=403)
    with pytest.raises(AuthenticationError):
        provider.send_batch([message(1), message(2)])


def test_timeout_is_transient(fake: FakeSes) -> None:
    provider = make_provider(fake, timeout=0.3)
    fake.hang_next(seconds=3)
    started = time.monotonic()
    with pytest.raises(TransientError):
        provider.send(message(1))
    assert time.monotonic() - started < 2


def test_sandbox_refusing_a_recipient_is_not_a_bounce(fake: FakeSes, provider) -> None:
    """SES's sandbox names the recipient in "Email address is not verified": the
    account's state, so that message fails and the address stays contactable."""
    fake.sandbox = True
    try:
        with pytest.raises(PermanentError) as caught:
            provider.send(message(1))
    finally:
        fake.sandbox = False
    assert caught.value.code == "MessageRejected" and "user1@example.test" in str(caught.value)
    assert not caught.value.suppress and not isinstance(caught.value, AccountError)
    assert "sandbox" in caught.value.message


def test_unverified_sender_is_an_account_error(provider) -> None:
    with pytest.raises(AccountError) as caught:
        provider.send(message(1, sender="someone@elsewhere.test"))
    assert caught.value.code == "MessageRejected" and not caught.value.suppress


@pytest.mark.parametrize(
    ("state", "code"),
    [("suspended", "AccountSuspendedException"), ("paused", "SendingPausedException")],
)
def test_stopped_account_ends_the_batch_as_an_account_error(
    fake: FakeSes, provider, state: str, code: str
) -> None:
    fake.account_state = state
    try:
        with pytest.raises(AccountError) as caught:
            provider.send_batch([message(1), message(2)])
    finally:
        fake.account_state = None
    assert caught.value.code == code and not caught.value.suppress
    assert fake.received == []
