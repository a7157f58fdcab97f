"""SendGrid adapter through the official SDK against a local fake of the Mail Send API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from providers.email.base import OutgoingEmail, SendResult
from providers.email.sendgrid import SendGridEmailProvider
from providers.errors import AccountError, AuthenticationError, PermanentError, TransientError
from tests.fakes.sendgrid import DEFAULT_API_KEY, FakeSendGrid

UNSUB = {
    "List-Unsubscribe": "<https://decant.test/u/tok>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def provider(fake: FakeSendGrid) -> SendGridEmailProvider:
    return SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2)


def campaign_message(i: int, *, sender: str = "news@decant.test") -> OutgoingEmail:
    """A per-recipient rendering of one campaign: name, wine list, token-bearing link."""
    name = ["Ann", "Mary Ann Lee", "Bob", "Zoë"][i % 4]
    extra = "<p>Your rep: Carla</p>\n" if i % 7 == 0 else ""
    rows = "".join(f"<tr><td>Wine {n}</td><td>{n * 3} EUR</td></tr>\n" for n in range(20))
    wines = "".join(f"Wine {n}: {n * 3} EUR\n" for n in range(20))
    # As Jinja yields a template's render: literal text and values, in order.
    html_parts = (
        "<html><body>\n<p>Hello ",
        name,
        ",</p>\n",
        extra,
        f'<table>\n{rows}</table>\n<a href="https://decant.test/u/tok',
        f"{i:05d}",
        '">Unsubscribe</a>\n</body></html>\n',
    )
    text_parts = (
        "Hello ",
        name,
        f",\n{wines}Unsubscribe: https://decant.test/u/tok",
        f"{i:05d}",
        "\n",
    )
    html, text = "".join(html_parts), "".join(text_parts)
    return OutgoingEmail(
        to=f"user{i}@example.test",
        from_email=sender,
        from_name="Decant Wines",
        subject=f"New wines for {name}",
        html=html,
        text=text,
        headers={
            "List-Unsubscribe": f"<https://decant.test/u/tok{i:05d}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        metadata={"message_id": f"m{i}"},
        parts=(html_parts, text_parts),
    )


def test_send_posts_recipient_headers_and_custom_args(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    message = OutgoingEmail(
        to="ann@example.test",
        from_email="news@decant.test",
        from_name="Decant Wines",
        subject="Spring list",
        html="<p>Hi Ann</p>",
        text="Hi Ann",
        headers=UNSUB,
        reply_to="rep@decant.test",
        metadata={"message_id": "42", "campaign_id": "7"},
    )
    result = provider.send(message)

    [mail] = fake.received
    assert result == SendResult(mail.x_message_id)
    assert (mail.to, mail.from_email, mail.from_name) == (
        "ann@example.test",
        "news@decant.test",
        "Decant Wines",
    )
    assert (mail.subject, mail.html, mail.text) == ("Spring list", "<p>Hi Ann</p>", "Hi Ann")
    assert mail.headers == UNSUB
    assert mail.custom_args == {"message_id": "42", "campaign_id": "7"}
    assert mail.reply_to == "rep@decant.test"


def test_campaign_of_1000_personalised_bodies_is_one_request(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    messages = [campaign_message(i) for i in range(1000)]
    results = provider.send_batch(messages)

    assert fake.request_count == 1
    [request] = fake.requests
    assert len(request["personalizations"]) == 1000
    assert len(fake.received) == 1000
    by_recipient = {mail.to: mail for mail in fake.received}
    for message in messages:
        mail = by_recipient[message.to]
        assert mail.html == message.html
        assert mail.text == message.text
        assert mail.subject == message.subject
        assert mail.headers == dict(message.headers)
        assert mail.custom_args == dict(message.metadata)
    assert results == [SendResult(fake.received[0].x_message_id)] * 1000
    # Substitutions carry the differences only, not copies of the bodies.
    biggest = max(
        sum(len(k) + len(v) for k, v in p.get("substitutions", {}).items())
        for p in request["personalizations"]
    )
    assert biggest < 400


def test_batch_groups_by_sender_and_sends_oversized_differences_alone(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    messages = [campaign_message(i) for i in range(6)]
    messages.append(campaign_message(6, sender="events@decant.test"))
    big = campaign_message(7)
    messages.append(
        OutgoingEmail(
            to=big.to,
            from_email=big.from_email,
            from_name=big.from_name,
            subject=big.subject,
            html=big.html + "".join(f"<p>line {n} only for this reader</p>\n" for n in range(400)),
            text=big.text,
            metadata=big.metadata,
        )
    )
    results = provider.send_batch(messages)

    assert fake.request_count == 3  # main group, other sender, oversized one
    assert all(isinstance(r, SendResult) for r in results)
    by_recipient = {mail.to: mail for mail in fake.received}
    for message in messages:
        mail = by_recipient[message.to]
        assert (mail.from_email, mail.html, mail.text) == (
            message.from_email,
            message.html,
            message.text,
        )


def test_rate_limited_is_transient_with_retry_after(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    fake.fail_next(status=429, retry_after=7)
    with pytest.raises(TransientError) as caught:
        provider.send(campaign_message(1))
    assert caught.value.retry_after == 7.0
    assert caught.value.code == "429"

    reset = int(time.time()) + 30
    fake.fail_next(status=429, headers={"X-RateLimit-Reset": str(reset)})
    with pytest.raises(TransientError) as caught:
        provider.send_batch([campaign_message(2), campaign_message(3)])
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 30
    assert fake.received == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    fake: FakeSendGrid, provider: SendGridEmailProvider, status: int
) -> None:
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send(campaign_message(1))
    fake.fail_next(status=status)
    with pytest.raises(TransientError):
        provider.send_batch([campaign_message(2), campaign_message(3)])
    assert fake.received == []


def test_invalid_recipient_is_permanent_and_suppressed(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    fake.fail_next(status=400)  # SendGrid blames personalizations.0.to.0.email
    with pytest.raises(PermanentError) as caught:
        provider.send(campaign_message(1))
    assert caught.value.suppress is True
    assert caught.value.reason == "bounce"
    assert not isinstance(caught.value, AuthenticationError)


def test_batch_drops_the_invalid_recipient_and_sends_the_rest(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    messages = [campaign_message(i) for i in range(5)]
    fake.reject(messages[2].to)
    results = provider.send_batch(messages)

    assert fake.request_count == 2  # refused once, then sent without the bad address
    refused = results[2]
    assert isinstance(refused, PermanentError)
    assert refused.suppress and refused.reason == "bounce"
    assert [isinstance(r, SendResult) for r in results] == [True, True, False, True, True]
    assert sorted(m.to for m in fake.received) == sorted(
        m.to for i, m in enumerate(messages) if i != 2
    )


def test_other_client_errors_fail_every_message_without_suppressing(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    fake.fail_next(status=413)
    results = provider.send_batch([campaign_message(1), campaign_message(2)])
    assert all(isinstance(r, PermanentError) and not r.suppress for r in results)
    assert fake.received == []


def test_failure_after_part_of_a_batch_marks_only_the_rest_transient(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    messages = [campaign_message(0), campaign_message(1, sender="events@decant.test")]
    fake.fail_next(status=503, after=1)  # the first request goes, the second fails
    results = provider.send_batch(messages)
    assert isinstance(results[0], SendResult)
    assert isinstance(results[1], TransientError)
    assert [m.to for m in fake.received] == [messages[0].to]


def test_bad_api_key_is_an_authentication_error(fake: FakeSendGrid) -> None:
    provider = SendGridEmailProvider("SG.wrong", base_url=fake.url, timeout=2)
    with pytest.raises(AuthenticationError):
        provider.send(campaign_message(1))
    with pytest.raises(AuthenticationError):
        provider.send_batch([campaign_message(1), campaign_message(2)])


def test_timeout_is_transient(fake: FakeSendGrid) -> None:
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=0.3)
    fake.hang_next(seconds=3)
    started = time.monotonic()
    with pytest.raises(TransientError):
        provider.send(campaign_message(1))
    assert time.monotonic() - started < 2
    assert fake.received == []


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError):
        provider.send(campaign_message(1))


def _to(message: OutgoingEmail, address: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=address,
        from_email=message.from_email,
        from_name=message.from_name,
        subject=message.subject,
        html=message.html,
        text=message.text,
        headers=message.headers,
        metadata=message.metadata,
        parts=message.parts,
    )


def test_one_address_twice_in_a_batch_goes_in_separate_requests(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    """SendGrid refuses a whole request naming an address twice (case-insensitively):
    the adapter never builds one."""
    messages = [
        _to(campaign_message(0), "Ann@Example.test"),
        _to(campaign_message(1), "ann@example.test"),
        campaign_message(2),
    ]
    results = provider.send_batch(messages)
    assert all(isinstance(r, SendResult) for r in results), results
    assert sorted(m.to for m in fake.received) == [
        "Ann@Example.test",
        "ann@example.test",
        "user2@example.test",
    ]
    assert len(fake.requests) == 2


def test_fake_refuses_a_request_naming_an_address_twice(fake: FakeSendGrid) -> None:
    import requests

    body = {
        "from": {"email": "news@decant.test"},
        "subject": "x",
        "content": [{"type": "text/plain", "value": "x"}],
        "personalizations": [
            {"to": [{"email": "a@example.test"}]},
            {"to": [{"email": "A@example.test"}]},
        ],
    }
    answer = requests.post(
        fake.url + "/v3/mail/send",
        json=body,
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert "more than once" in answer.json()["errors"][0]["message"]


def test_a_400_naming_a_recipient_field_for_another_reason_is_not_a_bounce(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    fake.fail_next(status=400, kind="duplicate")  # names personalizations.0.to.0.email
    results = provider.send_batch([campaign_message(0), campaign_message(1)])
    assert all(isinstance(r, PermanentError) and not r.suppress for r in results), results
    with pytest.raises(PermanentError) as caught:
        fake.fail_next(status=400, kind="duplicate")
        provider.send(campaign_message(2))
    assert not caught.value.suppress


def test_a_refused_sender_is_an_account_error(
    fake: FakeSendGrid, provider: SendGridEmailProvider
) -> None:
    results = provider.send_batch(
        [campaign_message(0, sender="not-an-address"), campaign_message(1, sender="not-an-address")]
    )
    assert all(isinstance(r, AccountError) and not r.suppress for r in results), results
