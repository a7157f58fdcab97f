"""Decant tokens as Mailchimp merge tags, and merge tags read back (no HTTP)."""

from __future__ import annotations

import pytest

from blueprints.mailchimp import merge

TAGS = {
    "customer_name": "FNAME",
    "territory": "TERRITORY",
    "rep_name": "REP",
    "last_order_date": "LASTORDER",
    "unsubscribe_url": "UNSUB",
    "wine_club": "WINE_CLUB",
}


@pytest.mark.parametrize(
    ("key", "taken", "tag"),
    [
        ("wine_club", set(), "WINE_CLUB"),
        ("preferred_varietal", set(), "PREFERRED_"),
        ("preferred_varietal", {"PREFERRED_"}, "PREFERRED2"),
        ("2fa", set(), "F2FA"),
        ("email", set(), "EMAIL2"),
        ("territory", set(), "TERRITORY2"),
        ("é", set(), "FIELD"),
    ],
)
def test_tag_for_custom_keys(key: str, taken: set[str], tag: str) -> None:
    assert merge.tag_for(key, taken) == tag
    assert len(tag) <= merge.MAX_TAG


def test_tokens_become_tags_with_fallbacks_as_conditionals() -> None:
    text = merge.to_merge_tags(
        "Hi {{customer_name}} ({{wine_club}}) {{territory|default('')}} "
        "{{rep_name|default('R&D')}}",
        TAGS,
        html=True,
    )
    assert text == (
        "Hi *|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|* (*|WINE_CLUB|*) "
        "*|IF:TERRITORY|**|TERRITORY|**|END:IF|* *|IF:REP|**|REP|**|ELSE:|*R&amp;D*|END:IF|*"
    )
    # a token the audience has no field for renders as Decant renders a missing value
    assert merge.to_merge_tags("{{vintage|default('new')}}", TAGS, html=False) == "new"
    # templates with blocks are rendered with each token standing for its tag
    assert merge.to_merge_tags("{% if wine_club %}{{wine_club}}{% endif %}", TAGS, html=False) == (
        "*|WINE_CLUB|*"
    )


def test_a_url_encoded_token_becomes_mailchimps_url_tag() -> None:
    """Saving writes a token inside a link's query as ``|urlencode``: Mailchimp gets its
    own encoded tag, not ``%2A%7CFNAME%7C%2A``."""
    html = "<a href=\"https://x.example/?n={{ customer_name|default('there')|urlencode }}\">x</a>"
    assert merge.to_merge_tags(html, TAGS, html=True) == (
        '<a href="https://x.example/?n=*|URL:FNAME|*">x</a>'
    )
    assert merge.to_merge_tags("{{ email }}", {**TAGS, **merge.SYSTEM_TAGS}, html=True) == (
        "*|EMAIL|*"
    )


def test_fill_reads_tags_as_mailchimp_does() -> None:
    subject = merge.to_merge_tags(
        "{{customer_name}} in {{territory}}, {{rep_name|default('')}}!", TAGS, html=False
    )
    values = {"FNAME": "Ann", "TERRITORY": "", "REP": ""}
    assert merge.fill(subject, values, merge.defaults()) == "Ann in your area, !"
    assert (
        merge.fill("*|LASTORDER|* *|NOPE|*", {"LASTORDER": "2026-01-02"}) == "2026-01-02 *|NOPE|*"
    )


def test_preview_shows_placeholders() -> None:
    subject = merge.to_merge_tags("Hello {{customer_name}}, {{wine_club}} news", TAGS, html=False)
    assert merge.preview(subject) == "Hello [Customer name], [wine club] news"
    assert merge.preview("No tags") == "No tags"
