"""A campaign template prepared once renders each recipient's message exactly as the
per-recipient renderer does: subject, HTML (CSS inlined, links tracked, footer and pixel)
and the text part, for any mix of tokens, links, styles and hostile values."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.messaging import rendering, signing
from blueprints.email import sending, tracking

WORDS = st.text(alphabet=st.sampled_from(list("ab <>&\"'é€\n")), max_size=10).filter(
    lambda t: "{" not in t and "}" not in t
)
VALUE = st.one_of(st.just(""), st.text(alphabet=st.sampled_from(list("xy <>&\"'é")), max_size=8))
TOKEN = st.sampled_from(
    [
        "{{ customer_name }}",
        "{{customer_name|default('there')}}",
        "{{ territory }}",
        "{{ rep_name }}",
        "{{ last_order_date|default('a while ago') }}",
        "{{ tier }}",
    ]
)
LINK = st.sampled_from(
    [
        '<a href="https://example.com/specials">Specials</a>',
        "<a class='cta' href='https://shop.example/wine?a=1&amp;b=2'>Shop</a>",
        '<a href="https://example.com/new">New <b>arrivals</b></a>',
    ]
)


class _Events(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if self.events and self.events[-1][0] == "data":
            data = self.events.pop()[1] + data
        self.events.append(("data", data))


def _document(html: str) -> list[tuple]:
    """The parse of ``html``: tags, attributes and text, with character references read."""
    parser = _Events()
    parser.feed(html)
    parser.close()
    return parser.events


@st.composite
def campaign_html(draw) -> str:
    blocks = draw(
        st.lists(
            st.one_of(
                st.builds(lambda w: f"<p>{w}</p>", WORDS),
                st.builds(lambda t, w: f"<p>{w}{t}</p>", TOKEN, WORDS),
                LINK,
            ),
            min_size=1,
            max_size=6,
        )
    )
    if draw(st.booleans()):
        blocks.append('<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')
    body = "".join(blocks)
    if draw(st.booleans()):
        style = "<style>p{color:#333}a{color:#7b1e3a}.cta{padding:8px}</style>"
        body = f"<html><head>{style}</head><body>{body}</body></html>"
    return rendering.sanitise_html(body)  # as every campaign body is stored


# The app is only read (config, signing key): sharing it across examples is safe.
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    html=campaign_html(),
    subject=st.sampled_from(["News", "Hi {{ customer_name }}", "{{ territory }} specials"]),
    values=st.fixed_dictionaries(
        {n: VALUE for n in ("customer_name", "territory", "rep_name", "last_order_date", "tier")}
    ),
    message_id=st.integers(1, 10**9),
)
def test_prepared_template_renders_what_the_renderer_does(app, html, subject, values, message_id):
    prepared = sending.prepare_template(html, app.config["PUBLIC_BASE_URL"])
    assume(prepared is not None)
    row = SimpleNamespace(id=message_id)
    unsubscribe = tracking.unsubscribe_url(message_id)
    expected = sending.render_for(row, subject, html, values, unsubscribe)
    got, merge = sending.render_prepared(message_id, subject, prepared, values, unsubscribe)
    if merge is not None:
        assert (merge.html, merge.text) == (got.html, got.text)
    # The prepared links are numbered under the message's tracking token, the others
    # each sign their URL: the same link when both name the same destination.
    expected = _links_by_destination(expected, prepared.links, message_id)
    got = _links_by_destination(got, prepared.links, message_id)
    assert (got.subject, got.text) == (expected.subject, expected.text)
    if "<style" in html:
        # CSS inlining re-serialises the per-recipient HTML (&#39; comes back as '), the
        # prepared one only its template: the same document, not always the same bytes.
        assert _document(got.html) == _document(expected.html)
    else:
        assert got.html == expected.html


_SIGNED_LINK = re.compile(r"http://localhost/email/t/c/([A-Za-z0-9_.\-]+)(?:/(\d+))?")


def _links_by_destination(
    rendered: rendering.RenderedEmail, links: tuple[str, ...], message_id: int
) -> rendering.RenderedEmail:
    """``rendered`` with each click URL replaced by ``LINK<n>``, ``n`` the first place
    of its destination in ``links``; a URL that does not resolve to one fails."""

    def destination(match: re.Match[str]) -> str:
        token, number = match.group(1), match.group(2)
        if number is None:
            payload = signing.unsign("click", token)
            assert payload is not None and payload[0] == message_id
            url = payload[1]
        else:
            assert signing.unsign("open", token) == message_id
            url = links[int(number)]
        return f"LINK{links.index(url)}"

    return rendering.RenderedEmail(
        rendered.subject,
        _SIGNED_LINK.sub(destination, rendered.html),
        _SIGNED_LINK.sub(destination, rendered.text),
    )


def test_most_campaign_templates_are_prepared(app):
    """The property above is not vacuous: plain templates with links and styles prepare."""
    base = app.config["PUBLIC_BASE_URL"]
    assert sending.prepare_template("<p>Hi {{ customer_name }}</p>", base) is not None
    styled = (
        "<html><head><style>p{color:red}</style></head><body><p>{{ territory }}</p>"
        '<a href="https://example.com/x">x</a></body></html>'
    )
    assert sending.prepare_template(styled, base) is not None
    assert sending.prepare_template("{% if territory %}x{% endif %}", base) is None
