"""SMTP adapter (smtplib, one reused connection) against an aiosmtpd sink."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.email.base import OutgoingEmail, SendResult
from providers.email.smtp import SmtpEmailProvider, build_mime
from providers.errors import AuthenticationError, PermanentError, TransientError
from tests.fakes.smtp import SmtpSink

UNSUB = {
    "List-Unsubscribe": "<https://decant.test/u/tok>, <mailto:unsub@decant.test>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def provider(sink: SmtpSink) -> Iterator[SmtpEmailProvider]:
    with SmtpEmailProvider(sink.host, sink.port, timeout=2, local_hostname="test") as adapter:
        assert isinstance(adapter, SmtpEmailProvider)
        yield adapter


def message(i: int, *, to: str | None = None, **changes: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "to": to or f"user{i}@example.test",
        "from_email": "news@decant.test",
        "from_name": "Decant Wines",
        "subject": f"Spring list {i}",
        "html": f"<p>Hello {i}</p>",
        "text": f"Hello {i}",
        "headers": UNSUB,
        "reply_to": "rep@decant.test",
        "metadata": {"message_id": str(i)},
        **changes,
    }
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def body_of(parsed: EmailMessage, subtype: str) -> str:
    part = parsed.get_body((subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # MIME text lines end in CRLF on the wire


def test_send_delivers_a_multipart_alternative_with_our_headers(
    sink: SmtpSink, provider: SmtpEmailProvider
) -> None:
    tricky_text = "Hello Zoë 🍷\n.leading dot\nprice = 12€ \n" + "x" * 1200 + "\nend"
    tricky_html = "<p>Hello Zoë</p>\r\n<p>a=b</p>\n" + "<b>" * 400 + "\n.\n"
    result = provider.send(
        message(1, subject="Vins d'été – ça pétille", text=tricky_text, html=tricky_html)
    )

    [received] = sink.received
    assert received.mail_from == "news@decant.test"
    assert received.rcpt_tos == ["user1@example.test"]
    parsed = received.parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    assert str(parsed["Subject"]) == "Vins d'été – ça pétille"
    assert parsed["From"].addresses[0].display_name == "Decant Wines"
    assert parsed["From"].addresses[0].addr_spec == "news@decant.test"
    assert str(parsed["To"]) == "user1@example.test"
    assert str(parsed["Reply-To"]) == "rep@decant.test"
    assert str(parsed["List-Unsubscribe"]) == UNSUB["List-Unsubscribe"]
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(parsed["X-Decant-message_id"]) == "1"
    assert str(parsed["Message-ID"]) == result.provider_message_id
    assert parsed["Date"] is not None
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert body_of(parsed, "plain") == tricky_text
    assert body_of(parsed, "html") == tricky_html.replace("\r\n", "\n")
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


def test_200_messages_travel_over_one_connection(
    sink: SmtpSink, provider: SmtpEmailProvider
) -> None:
    first = provider.send_batch([message(i) for i in range(100)])
    second = provider.send_batch([message(i) for i in range(100, 200)])

    assert all(isinstance(r, SendResult) for r in first + second)
    assert len(sink.received) == 200
    assert sink.connections == 1
    assert [m.rcpt_tos[0] for m in sink.received] == [f"user{i}@example.test" for i in range(200)]


def test_a_dropped_connection_is_reopened_once(sink: SmtpSink, provider: SmtpEmailProvider) -> None:
    provider.send(message(1))
    sink.drop_connections()
    time.sleep(0.05)
    provider.send(message(2))
    assert [m.rcpt_tos[0] for m in sink.received] == ["user1@example.test", "user2@example.test"]
    assert sink.connections == 2


def test_refused_recipient_is_a_suppressing_bounce_and_the_connection_survives(
    sink: SmtpSink, provider: SmtpEmailProvider
) -> None:
    sink.refuse("gone@example.test")
    results = provider.send_batch([message(0), message(1, to="gone@example.test"), message(2)])

    refused = results[1]
    assert isinstance(refused, PermanentError)
    assert refused.suppress and refused.reason == "bounce"
    assert refused.code == "550"
    assert isinstance(results[0], SendResult) and isinstance(results[2], SendResult)
    assert len(sink.received) == 2
    assert sink.connections == 1


def test_temporary_refusal_is_transient(sink: SmtpSink, provider: SmtpEmailProvider) -> None:
    sink.refuse("full@example.test", "452 4.2.2 Mailbox full")
    with pytest.raises(TransientError) as caught:
        provider.send(message(1, to="full@example.test"))
    assert caught.value.code == "452"


def test_a_deferred_recipient_does_not_hold_up_the_rest_of_the_batch(
    sink: SmtpSink, provider: SmtpEmailProvider
) -> None:
    sink.refuse("full@example.test", "452 4.2.2 Mailbox full")
    results = provider.send_batch([message(0, to="full@example.test"), message(1), message(2)])
    assert isinstance(results[0], TransientError)
    assert isinstance(results[1], SendResult) and isinstance(results[2], SendResult)
    assert len(sink.received) == 2 and sink.connections == 1


def test_credentials_are_checked() -> None:
    with SmtpSink(credentials=("decant", "s3cret")) as sink:
        good = SmtpEmailProvider(
            sink.host, sink.port, username="decant", password="s3cret", timeout=2
        )
        good.send(message(1))
        good.close()
        bad = SmtpEmailProvider(sink.host, sink.port, username="decant", password="nope", timeout=2)
        with pytest.raises(AuthenticationError):
            bad.send(message(2))
        with pytest.raises(AuthenticationError):
            bad.send_batch([message(3), message(4)])
        assert [m.rcpt_tos[0] for m in sink.received] == ["user1@example.test"]


def test_timeout_is_transient_and_the_next_send_reconnects(sink: SmtpSink) -> None:
    provider = SmtpEmailProvider(sink.host, sink.port, timeout=0.3, local_hostname="test")
    sink.hang_next(seconds=3)
    started = time.monotonic()
    with pytest.raises(TransientError):
        provider.send(message(1))
    assert time.monotonic() - started < 2
    provider.send(message(2))
    assert [m.rcpt_tos[0] for m in sink.received] == ["user2@example.test"]
    provider.close()


def test_no_server_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = SmtpEmailProvider("127.0.0.1", port, timeout=1)
    with pytest.raises(TransientError):
        provider.send(message(1))
    with pytest.raises(TransientError):
        provider.send_batch([message(1), message(2)])


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=120),
    text=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=400
    ),
    html=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"), max_size=400
    ),
    name=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40),
)
def test_built_messages_parse_back_to_what_was_given(
    subject: str, text: str, html: str, name: str
) -> None:
    built = build_mime(
        message(1, subject=subject, text=text, html=html, from_name=name or None), "<id@test>"
    )
    assert b"\n" not in built.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(built, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert " ".join(str(parsed["Subject"]).split()) == " ".join(subject.split())
    assert " ".join(parsed["From"].addresses[0].display_name.split()) == " ".join(name.split())
    if text:
        assert body_of(parsed, "plain") == text
    if html:
        assert body_of(parsed, "html") == html


@pytest.mark.parametrize(
    "text, encoding",
    [
        ("a\tb\n" + "x" * 998 + "\nend", "7bit"),  # tabs and a line of 998: as is
        ("a\n" + "x" * 999 + "\nend", "quoted-printable"),  # one character too long
        ("x" * 999, "quoted-printable"),
        ("bell \x07 here", "quoted-printable"),  # a control character
        ("del \x7f here", "quoted-printable"),
        ("caf\u00e9", "quoted-printable"),  # not ASCII
        ("", "7bit"),
    ],
)
def test_a_part_is_7bit_only_when_it_can_travel_as_is(text: str, encoding: str) -> None:
    built = build_mime(message(1, text=text, html=None), "<id@test>")
    parsed = email.message_from_bytes(built, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Content-Transfer-Encoding"] == encoding
    assert max(len(line) for line in built.split(b"\r\n")) <= 998
    assert body_of(parsed, "plain") == text
