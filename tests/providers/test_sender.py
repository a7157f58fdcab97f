"""The sender process: SendGrid batches staged and sent from a process of their own,
through the official SDK against the local fake (spoken to over HTTP from that process),
with the same outcomes and errors as the adapter gives in the caller's process."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator

import pytest

from providers.email import batches
from providers.email.base import Merge, MergeLayout, OutgoingEmail
from providers.email.sendgrid import SendGridEmailProvider
from providers.errors import PermanentError, TransientError
from providers.sender import SenderLost, SenderProcess
from tests.fakes.sendgrid import DEFAULT_API_KEY, FakeSendGrid

LAYOUT = MergeLayout(
    html=("<p>Hi ", 0, ",</p><a href='", 1, "'>go</a>"),
    text=("Hi ", 2, "\n", 1, "\n"),
)


def merged(i: int) -> OutgoingEmail:
    name = ["Ann", "Mary <Lee>", "Zoë"][i % 3]
    escaped = name.replace("<", "&lt;").replace(">", "&gt;")
    merge = Merge(LAYOUT, (escaped, f"https://t.test/c/{i}", name))
    return OutgoingEmail(
        to=f"user{i}@example.test",
        from_email="news@decant.test",
        subject=f"Hello {name}",
        html=merge.html,
        text=merge.text,
        headers={"List-Unsubscribe": f"<https://t.test/u/{i}>"},
        idempotency_key=f"eml_{i}",
        metadata={"message_id": f"eml_{i}"},
        merge=merge,
    )


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sender(fake: FakeSendGrid) -> Iterator[SenderProcess]:
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2)
    process = SenderProcess(provider, batches.stage, batches.transmit)
    yield process
    process.close()


def prepared(messages: list[OutgoingEmail | None]) -> batches.PreparedBatch:
    problems = {
        i: PermanentError("cannot build message", code="render")
        for i, m in enumerate(messages)
        if m is None
    }
    return batches.PreparedBatch(messages, problems)


def test_a_message_pickles_as_its_merge_and_comes_back_whole() -> None:
    message = merged(1)
    copy = pickle.loads(pickle.dumps(message))
    assert copy == message
    assert copy.merge is not None and copy.merge.holds(copy.html, copy.text)
    # Without its bodies: the merge's values are all that travels of them.
    assert message.html.encode() not in pickle.dumps(message)
    edited = OutgoingEmail(
        message.to, message.from_email, message.subject, "<p>edited</p>", "edited", merge=None
    )
    assert pickle.loads(pickle.dumps(edited)) == edited


def test_the_sendgrid_adapter_pickles_as_its_settings(fake: FakeSendGrid) -> None:
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2)
    copy = pickle.loads(pickle.dumps(provider))
    assert copy is not provider and copy.process_safe
    copy.send(merged(0))
    assert [m.to for m in fake.received] == ["user0@example.test"]


def test_a_batch_sent_from_the_process_reaches_the_provider_as_built(
    fake: FakeSendGrid, sender: SenderProcess
) -> None:
    messages: list[OutgoingEmail | None] = [merged(i) for i in range(30)]
    messages[4] = None  # a row that could not be built keeps its place and its error
    outcomes = sender.send(sender.stage(prepared(messages))).result(timeout=20)

    assert fake.request_count == 1
    assert isinstance(outcomes[4], PermanentError) and outcomes[4].code == "render"
    sent = [o for i, o in enumerate(outcomes) if i != 4]
    assert len(set(sent)) == 1 and sent[0]  # the request's X-Message-Id, for each row
    by_recipient = {mail.to: mail for mail in fake.received}
    for message in messages:
        if message is not None:
            mail = by_recipient.pop(message.to)
            assert (mail.subject, mail.html, mail.text) == (
                message.subject,
                message.html,
                message.text,
            )
            assert mail.custom_args == {"message_id": message.metadata["message_id"]}
    assert not by_recipient


def test_errors_come_back_classified(fake: FakeSendGrid, sender: SenderProcess) -> None:
    fake.fail_next(status=429, retry_after=7)
    future = sender.send(sender.stage(prepared([merged(1), merged(2)])))
    with pytest.raises(TransientError) as caught:
        future.result(timeout=20)
    assert caught.value.code == "429" and caught.value.retry_after == 7

    fake.reject("user4@example.test")
    outcomes = sender.send(sender.stage(prepared([merged(3), merged(4)]))).result(timeout=20)
    refused = outcomes[1]
    assert isinstance(refused, PermanentError)
    assert refused.suppress and refused.reason == "bounce"
    assert isinstance(outcomes[0], str)
    assert [m.to for m in fake.received] == ["user3@example.test"]


def test_a_staging_error_is_the_send_error(sender: SenderProcess) -> None:
    too_many = prepared([merged(i) for i in range(1001)])  # over SendGrid's 1,000
    with pytest.raises(ValueError, match="exceeds max_batch_size"):
        sender.send(sender.stage(too_many)).result(timeout=20)


def test_a_dropped_batch_is_never_sent(fake: FakeSendGrid, sender: SenderProcess) -> None:
    dropped = sender.stage(prepared([merged(1)]))
    kept = sender.stage(prepared([merged(2)]))
    sender.drop(dropped)
    sender.send(kept).result(timeout=20)
    assert [m.to for m in fake.received] == ["user2@example.test"]


def test_a_killed_process_is_a_lost_sender_not_a_hang(sender: SenderProcess) -> None:
    sender.send(sender.stage(prepared([merged(1)]))).result(timeout=20)
    [pid] = [p.pid for p in sender._pool._processes.values()]  # noqa: SLF001
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    with pytest.raises(SenderLost):
        while time.monotonic() < deadline:  # the pool notices the death within moments
            sender.send(sender.stage(prepared([merged(2)]))).result(timeout=10)
            time.sleep(0.05)
    assert isinstance(SenderLost(), TransientError)  # retried like a lost answer
    assert sender.broken  # the engine starts another


def test_a_batch_that_cannot_reach_the_process_fails_with_its_own_error(
    fake: FakeSendGrid, sender: SenderProcess
) -> None:
    unpicklable = prepared([merged(1)])
    unpicklable.problems[5] = PermanentError("odd")
    unpicklable.problems[5].hook = lambda: None  # type: ignore[attr-defined]
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        sender.send(sender.stage(unpicklable)).result(timeout=20)
    # The process is still there for the next batch.
    sender.send(sender.stage(prepared([merged(2)]))).result(timeout=20)
    assert [m.to for m in fake.received] == ["user2@example.test"]
