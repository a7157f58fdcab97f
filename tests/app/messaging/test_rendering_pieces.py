"""Templates of text and tokens are filled in directly: the same output as Jinja's."""

from __future__ import annotations

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from app.messaging import rendering, signing

NAMES = ("customer_name", "territory", "wine_club", "seats")
# Text that stays literal: no Jinja delimiters, but markup, quotes, newlines and CR.
LITERAL = st.text(alphabet=st.sampled_from(list("ab <>&\"'\n\r\t#%é€")), max_size=12).filter(
    lambda t: "{{" not in t and "{%" not in t and "{#" not in t and not t.endswith("{")
)
FALLBACK = st.text(alphabet=st.sampled_from(list('ab <>&"é')), max_size=6)
VALUE = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=st.sampled_from(list("xy<>&\"'é")), max_size=6),
    st.integers(-5, 5),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=2),
    st.builds(Markup, st.sampled_from(["<b>safe</b>", "a&amp;b"])),
)


@st.composite
def token(draw) -> str:
    name = draw(st.sampled_from(NAMES))
    space = draw(st.sampled_from(["", " "]))
    if draw(st.booleans()):
        fallback = draw(FALLBACK).replace("'", "")
        return "{{" + space + f"{name}|default('{fallback}')" + space + "}}"
    return "{{" + space + name + space + "}}"


@st.composite
def template(draw) -> str:
    parts = draw(st.lists(st.one_of(LITERAL, token()), max_size=8))
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(
    source=template(), context=st.fixed_dictionaries({n: VALUE for n in NAMES}), html=st.booleans()
)
def test_direct_fill_equals_jinja(source, context, html):
    present = {k: v for k, v in context.items() if v is not None and v != ""}
    expected = rendering._compiled(source, html).render(present)
    if rendering.simple_pieces(source, html) is None:
        # A token inside a tag but outside a quoted value, or after a lone "&": Jinja
        # renders it and the sanitiser decides what of the result may stay.
        assert html and ("<" in source or "&" in source)
        assert rendering.render(source, context, html=True) == rendering.clean_rendered_html(
            expected
        )
        return
    assert rendering.render(source, context, html=html) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{% if customer_name %}x{% endif %}",
        "{{ customer_name|upper }}",
        "{{ customer_name ~ 'x' }}",
        "{{ 'literal' }}",
        "{{ customer_name|default(territory) }}",
        "{{ customer_name|default('x', true) }}",
        "{{ range }}",
        "{# a comment #}{{ customer_name }}",
    ],
)
def test_anything_but_text_and_tokens_is_left_to_jinja(source):
    pieces = rendering.simple_pieces(source, True)
    if "comment" in source:  # comments vanish at parse time: still text and tokens
        assert pieces == (rendering.Token("customer_name"),)
        return
    assert pieces is None
    context = {"customer_name": "Bistro", "territory": "North"}
    expected = rendering._compiled(source, True).render(context)
    assert rendering.render(source, context, html=True) == expected


@settings(max_examples=100, deadline=None)
@given(
    message_id=st.integers(1, 2**40),
    url=st.text(alphabet=st.sampled_from(list('abc/:?=&é"\\ ')), min_size=1, max_size=20),
)
def test_batch_tracking_urls_are_the_single_message_urls(message_id, url):
    from blueprints.email import tracking

    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", PUBLIC_BASE_URL="https://decant.example")
    with app.app_context():
        batch = tracking.TrackingUrls()
        assert batch.open_url(message_id) == tracking.open_url(message_id)
        assert batch.unsubscribe_url(message_id) == tracking.unsubscribe_url(message_id)
        token = tracking.click_url(message_id, url).rsplit("/", 1)[1]
        assert signing.unsign("click", token) == [message_id, url]
        link = batch.link_url(batch.tracking_token(message_id), 2)
        token, number = link.removeprefix("https://decant.example/email/t/c/").split("/")
        assert signing.unsign("open", token) == message_id and number == "2"
