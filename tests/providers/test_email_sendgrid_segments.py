"""SendGrid batches of messages carrying aligned segments (campaign rendering): factored by
position, rebuilt exactly, and a message whose segments do not match its bodies falls back
to the generic factoring."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from providers.email.base import OutgoingEmail, SendResult
from providers.email.sendgrid import SendGridEmailProvider, factor_segments
from tests.fakes.sendgrid import DEFAULT_API_KEY, FakeSendGrid


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def segmented(i: int) -> OutgoingEmail:
    name = ["Ann", "Mary <Lee>", "Bob", "Zoë", ""][i % 5]
    html = ("<p>Hi ", name, ",</p><p>", "gold" if i % 2 else "silver", "</p>", f"<a>{i}</a>")
    text = ("Hi ", name, "\n", f"link {i}\n")
    return OutgoingEmail(
        to=f"user{i}@example.test",
        from_email="news@decant.test",
        subject="Hello",
        html="".join(html),
        text="".join(text),
        headers={"List-Unsubscribe": f"<https://decant.test/u/{i}>"},
        metadata={"message_id": f"m{i}"},
        segments=(html, text),
    )


def test_segments_are_factored_by_position_and_rebuilt_exactly(fake: FakeSendGrid) -> None:
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2)
    messages = [segmented(i) for i in range(300)]
    liar = segmented(300)
    messages.append(dataclasses.replace(liar, html=liar.html + "<p>more</p>"))
    results = provider.send_batch(messages)

    assert all(isinstance(r, SendResult) for r in results)
    assert fake.request_count == 2  # the aligned group, and the one whose segments lie
    by_recipient = {mail.to: mail for mail in fake.received}
    assert len(by_recipient) == len(messages)
    for message in messages:
        mail = by_recipient[message.to]
        assert (mail.html, mail.text) == (message.html, message.text)
    # The name is in both parts: its values travel once, under one tag used by both; the
    # tier and the link differ per part (HTML slots 2, text slot 1), so 4 in all.
    aligned = next(body for body in fake.requests if len(body["personalizations"]) == 300)
    assert {len(p["substitutions"]) for p in aligned["personalizations"]} == {4}
    html_content, text_content = (c["value"] for c in reversed(aligned["content"]))
    shared = set(aligned["personalizations"][0]["substitutions"])
    assert any(tag in html_content and tag in text_content for tag in shared)


def test_factor_segments_merges_adjacent_differences() -> None:
    parts, values = factor_segments([("a", "1", "x", "b"), ("a", "2", "y", "b")])
    assert parts == ["a", 0, "b"]
    assert values == [["1x"], ["2y"]]
