"""Resend adapter through the official SDK against a local fake of the Resend API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from providers.email.base import OutgoingEmail, SendResult
from providers.email.resend import ResendEmailProvider, batch_idempotency_key
from providers.errors import AccountError, AuthenticationError, PermanentError, TransientError
from tests.fakes.resend import DEFAULT_API_KEY, FakeResend

UNSUB = {
    "List-Unsubscribe": "<https://decant.test/u/tok>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
def fake() -> Iterator[FakeResend]:
    with FakeResend() as server:
        yield server


@pytest.fixture
def provider(fake: FakeResend) -> Iterator[ResendEmailProvider]:
    with ResendEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2) as adapter:
        assert isinstance(adapter, ResendEmailProvider)
        yield adapter


def message(i: int, *, to: str | None = None, key: str | None = "auto") -> OutgoingEmail:
    return OutgoingEmail(
        to=to or f"user{i}@example.test",
        from_email="news@decant.test",
        from_name="Decant Wines",
        subject=f"Spring list {i}",
        html=f"<p>Hello {i}</p>",
        text=f"Hello {i}",
        headers=UNSUB,
        reply_to="rep@decant.test",
        idempotency_key=f"msg-{i}" if key == "auto" else key,
        metadata={"message_id": str(i)},
    )


def test_send_posts_headers_tags_and_idempotency_key(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    result = provider.send(message(1))

    [mail] = fake.received
    assert result == SendResult(mail.id)
    assert mail.to == ["user1@example.test"]
    assert mail.from_ == "Decant Wines <news@decant.test>"
    assert (mail.subject, mail.html, mail.text) == ("Spring list 1", "<p>Hello 1</p>", "Hello 1")
    assert mail.headers == UNSUB
    assert mail.tags == {"message_id": "1"}
    assert mail.reply_to == "rep@decant.test"
    assert fake.request_headers[-1]["Idempotency-Key"] == "msg-1"


def test_same_idempotency_key_is_sent_once(fake: FakeResend, provider: ResendEmailProvider) -> None:
    first = provider.send(message(1))
    again = provider.send(message(1))
    assert first == again
    assert len(fake.received) == 1


def test_reused_key_with_another_payload_is_permanent(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    provider.send(message(1))
    with pytest.raises(PermanentError) as caught:
        provider.send(message(2, key="msg-1"))
    assert caught.value.code == "invalid_idempotent_request"
    assert not caught.value.suppress


def test_batch_is_one_request_with_ids_in_order_and_replays_safely(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    messages = [message(i) for i in range(3)]
    results = provider.send_batch(messages)

    assert fake.request_count == 1
    ids = {mail.to[0]: mail.id for mail in fake.received}
    assert results == [SendResult(ids[m.to]) for m in messages]
    assert [mail.tags for mail in fake.received] == [{"message_id": str(i)} for i in range(3)]
    assert fake.request_headers[-1]["Idempotency-Key"] == batch_idempotency_key(messages)

    # A retried batch (same keys, same payload) is answered again but not sent twice.
    assert provider.send_batch(messages) == results
    assert len(fake.received) == 3


def test_batch_key_depends_on_every_message_key() -> None:
    messages = [message(i) for i in range(3)]
    assert batch_idempotency_key(messages) != batch_idempotency_key(messages[:2])
    assert batch_idempotency_key([message(1), message(2, key=None)]) is None


def test_invalid_recipient_in_a_batch_fails_only_its_slot(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    messages = [message(0), message(1, to="not-an-address"), message(2)]
    results = provider.send_batch(messages)

    refused = results[1]
    assert isinstance(refused, PermanentError)
    assert refused.suppress and refused.reason == "bounce"
    ids = {mail.to[0]: mail.id for mail in fake.received}
    assert results[0] == SendResult(ids["user0@example.test"])
    assert results[2] == SendResult(ids["user2@example.test"])
    assert len(fake.received) == 2


def test_invalid_recipient_is_permanent_and_suppressed(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    with pytest.raises(PermanentError) as caught:
        provider.send(message(1, to="nobody-at-example"))
    assert caught.value.suppress and caught.value.reason == "bounce"
    fake.fail_next(status=422)
    with pytest.raises(PermanentError) as caught:
        provider.send(message(2))
    assert caught.value.suppress
    assert fake.received == []


def test_rate_limited_is_transient_with_retry_after(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    fake.fail_next(status=429, retry_after=3)
    with pytest.raises(TransientError) as caught:
        provider.send(message(1))
    assert caught.value.retry_after == 3.0
    fake.fail_next(status=429, retry_after=2)
    with pytest.raises(TransientError) as caught:
        provider.send_batch([message(2), message(3)])
    assert caught.value.retry_after == 2.0
    assert fake.received == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    fake: FakeResend, provider: ResendEmailProvider, status: int
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send(message(1))
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send_batch([message(2), message(3)])
    assert fake.received == []
    # Failed attempts were not remembered under their keys: the retry goes through.
    assert isinstance(provider.send(message(1)), SendResult)
    assert len(fake.received) == 1


@pytest.mark.parametrize("key", ["re_wrong", ""])
def test_bad_or_missing_key_is_an_authentication_error(fake: FakeResend, key: str) -> None:
    provider = ResendEmailProvider(key, base_url=fake.url, timeout=2)
    with pytest.raises(AuthenticationError):
        provider.send(message(1))
    with pytest.raises(AuthenticationError):
        provider.send_batch([message(1), message(2)])


def test_timeout_is_transient(fake: FakeResend) -> None:
    provider = ResendEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=0.3)
    fake.hang_next(seconds=3)
    started = time.monotonic()
    with pytest.raises(TransientError):
        provider.send(message(1))
    assert time.monotonic() - started < 2


def test_two_providers_keep_their_own_key_and_url(fake: FakeResend) -> None:
    with FakeResend(api_key="re_other") as other:
        first = ResendEmailProvider(DEFAULT_API_KEY, base_url=fake.url)
        second = ResendEmailProvider("re_other", base_url=other.url)
        first.send(message(1))
        second.send(message(2))
        first.send(message(3))
        assert [m.to[0] for m in fake.received] == ["user1@example.test", "user3@example.test"]
        assert [m.to[0] for m in other.received] == ["user2@example.test"]


def test_unverified_domain_refuses_the_whole_batch_as_an_account_error(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    """Resend's documented 403 ``validation_error`` "The <domain> domain is not verified"
    is about the account, not a recipient: raised for the batch, nobody suppressed."""
    fake.unverify("decant.test")
    with pytest.raises(AccountError) as caught:
        provider.send_batch([message(1), message(2)])
    assert "domain is not verified" in str(caught.value)
    assert caught.value.code == "validation_error" and not caught.value.suppress
    with pytest.raises(AccountError):
        provider.send(message(3))
    assert fake.received == []


def test_a_400_for_an_invalid_key_is_an_authentication_error(
    fake: FakeResend, provider: ResendEmailProvider
) -> None:
    fake.fail_next(status=400, kind="invalid_key")
    with pytest.raises(AuthenticationError) as caught:
        provider.send_batch([message(1), message(2)])
    assert isinstance(caught.value, AccountError) and not caught.value.suppress
