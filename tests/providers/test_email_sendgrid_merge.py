"""SendGrid batches of messages filling one layout (campaign rendering): fields become
tags, rebuilt exactly; a field equal everywhere stays literal; a message whose merge hint
no longer holds its bodies falls back to the generic factoring."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from providers.email.base import Merge, MergeLayout, OutgoingEmail, SendResult
from providers.email.sendgrid import SendGridEmailProvider
from tests.fakes.sendgrid import DEFAULT_API_KEY, FakeSendGrid

# fields: 0 name (HTML), 1 tier, 2 link (both parts), 3 sender (the same for all), 4 name (text)
LAYOUT = MergeLayout(
    html=("<p>Hi ", 0, ",</p><p>", 1, "</p><a href='", 2, "'>go</a> from ", 3),
    text=("Hi ", 4, "\n", 2, "\n", 2, "\nfrom ", 3),
)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


def merged(i: int) -> OutgoingEmail:
    name = ["Ann", "Mary <Lee>", "Bob", "Zoë", ""][i % 5]
    escaped = name.replace("<", "&lt;").replace(">", "&gt;")
    merge = Merge(LAYOUT, (escaped, "gold" if i % 2 else "silver", f"https://l/{i}", "Rep", name))
    return OutgoingEmail(
        to=f"user{i}@example.test",
        from_email="news@decant.test",
        subject="Hello",
        html=merge.html,
        text=merge.text,
        headers={"List-Unsubscribe": f"<https://decant.test/u/{i}>"},
        metadata={"message_id": f"m{i}"},
        merge=merge,
    )


def test_merged_messages_share_a_request_and_are_rebuilt_exactly(fake: FakeSendGrid) -> None:
    provider = SendGridEmailProvider(DEFAULT_API_KEY, base_url=fake.url, timeout=2)
    messages = [merged(i) for i in range(300)]
    edited = merged(300)
    messages.append(dataclasses.replace(edited, html=edited.html + "<p>more</p>"))
    results = provider.send_batch(messages)

    assert all(isinstance(r, SendResult) for r in results)
    assert fake.request_count == 2  # the layout's group, and the one edited since
    by_recipient = {mail.to: mail for mail in fake.received}
    assert len(by_recipient) == len(messages)
    for message in messages:
        mail = by_recipient[message.to]
        assert (mail.html, mail.text) == (message.html, message.text)
    group = next(body for body in fake.requests if len(body["personalizations"]) == 300)
    # name (HTML), tier, link: three tags; the link serves both parts and its second
    # place in the text; the text's name is the HTML's but for "Mary <Lee>" (escaped),
    # so it has its own; the sender is the same for everyone and stays literal.
    assert {len(p["substitutions"]) for p in group["personalizations"]} == {4}
    html_content, text_content = (c["value"] for c in reversed(group["content"]))
    assert html_content.endswith(" from Rep") and text_content.endswith("\nfrom Rep")
    link_tag = next(
        tag
        for tag, value in group["personalizations"][0]["substitutions"].items()
        if "//l/" in value
    )
    assert html_content.count(link_tag) == 1 and text_content.count(link_tag) == 2


def test_a_merge_hint_holds_only_its_own_bodies() -> None:
    message = merged(1)
    assert message.merge is not None and message.merge.holds(message.html, message.text)
    copy = dataclasses.replace(message, html=(message.html + ".")[:-1])
    assert copy.html == message.html and copy.html is not message.html
    assert copy.merge is not None and not copy.merge.holds(copy.html, copy.text)


@pytest.mark.parametrize(
    ("value", "shared"),
    [
        ("a" * 9993, True),  # 7 bytes of tag + 9,993 = 10,000: the limit itself
        ("a" * 9994, False),
        ("é" * 4996, True),  # two bytes each in UTF-8: 9,992 + 7
        ("é" * 4997, False),  # 4,997 characters but 9,994 bytes + 7
    ],
)
def test_a_recipient_goes_alone_only_past_sendgrids_byte_limit(value: str, shared: bool) -> None:
    from providers.email.sendgrid import _requests

    message = merged(0)
    requests = _requests([message], [0], "<p>-dc0h0-</p>", "-dc0h0-", ["-dc0h0-"], [(value,)])
    assert len(requests) == 1
    assert bool(requests[0].substitutions[0]) is shared
