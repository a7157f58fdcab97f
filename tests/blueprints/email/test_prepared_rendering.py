"""A campaign template prepared once and rendered by Jinja per recipient: what each
recipient gets (their values escaped, links numbered and stored, footer, pixel, a text
part), and templates that must be rendered on their own are."""

from __future__ import annotations

from app.messaging import signing
from blueprints.email import sending

STYLED = (
    "<html><head><style>p{color:#333}</style></head><body>"
    "<p>Hi {{ customer_name|default('friend') }}, news from {{ territory }}.</p>"
    '<a href="https://example.com/x?a=1&amp;b=2">X</a></body></html>'
)


def _render(app, html: str, values: dict, numbers=(7,)):
    with app.test_request_context():
        prepared = sending.prepare_template(html, app.config["PUBLIC_BASE_URL"])
        assert prepared is not None
        rendered, parts = sending.render_prepared(
            42, "Hi {{ customer_name }}", prepared, values, numbers
        )
        open_token = signing.sign("open", 42)
    return prepared, rendered, parts, open_token


def test_each_recipient_gets_their_values_escaped_with_numbered_links(app):
    prepared, rendered, parts, token = _render(
        app, STYLED, {"customer_name": "<b>Ann & Co</b>", "territory": ""}
    )
    assert prepared.links == ("https://example.com/x?a=1&b=2",)
    assert rendered.subject == "Hi <b>Ann & Co</b>"
    assert "&lt;b&gt;Ann &amp; Co&lt;/b&gt;" in rendered.html and "<b>" not in rendered.html
    assert "your area" in rendered.html  # an empty value renders its fallback
    assert 'style="color: #333;"' in rendered.html  # CSS inlined once, in the template
    assert f"/email/t/c/{token}/7" in rendered.html  # the campaign's stored number
    assert f"/email/t/o/{token}.gif" in rendered.html and "/email/preferences/" in rendered.html
    assert "Hi <b>Ann & Co</b>, news from your area." in rendered.text
    assert f"(http://localhost/email/t/c/{token}/7)" in rendered.text
    # The pieces Jinja yielded are the message's bodies (SendGrid shares the rest).
    assert parts is not None and ("".join(parts[0]), "".join(parts[1])) == (
        rendered.html,
        rendered.text,
    )


def test_markup_a_filter_makes_from_a_value_goes_through_the_sanitiser(app):
    html = "<p>{{ customer_name|urlize }}</p>"
    _, rendered, parts, _ = _render(
        app, html, {"customer_name": "javascript:alert(1) https://ok.example"}, ()
    )
    assert parts is None  # not the raw pieces: sanitised
    assert 'href="https://ok.example"' in rendered.html
    assert 'href="javascript' not in rendered.html


def test_loose_whitespace_in_a_value_is_tidied_in_the_text_part(app):
    _, rendered, parts, _ = _render(
        app, "<p>Hi {{ customer_name }}!</p>", {"customer_name": "  A   B "}, ()
    )
    assert "Hi A B !" in rendered.text and parts is None


def test_templates_whose_shape_or_tags_depend_on_values_are_rendered_per_recipient(app):
    base = app.config["PUBLIC_BASE_URL"]
    assert sending.prepare_template("<p>Hi {{ customer_name }}</p>", base) is not None
    assert sending.prepare_template(STYLED, base) is not None
    for source in (
        "{% if territory %}x{% endif %}",  # a block: the shape varies
        '<a href="{{ site }}">x</a>',  # a value would choose the link
        '<img src="{{ site }}">',
        '<p title="{{ customer_name }}">x</p>',  # a token inside a tag
    ):
        assert sending.prepare_template(source, base) is None, source


def test_the_body_put_together_from_its_values_is_what_jinja_renders_of_it(app):
    _check_bodies_against_jinja(app)


def test_our_own_values_are_escaped_as_jinja_escapes_them(app):
    """Signed URLs are put in the body without Jinja: a public base address holding
    characters HTML escapes gets them escaped exactly as Jinja would."""
    app.config["PUBLIC_BASE_URL"] = "https://decant.example/it's&co"
    _check_bodies_against_jinja(app)


def _check_bodies_against_jinja(app):
    """Per recipient only the tokens' values are rendered; the body around them is the
    prepared text. That is Jinja's own output of the whole body (newlines as Jinja
    writes them, its last newline dropped), and the text part is the HTML's reading."""
    from app.messaging import rendering, sandbox

    templates = [
        STYLED,
        "<p>Hi {{ customer_name }}</p>\r\n<ul><li>{{ rep_name|default('x') }}</li></ul>\n",
        "<p>{{ customer_name|upper }} &amp; {{ territory|e }}</p>\n\n",
        # our own values (signed URLs, filled without Jinja) next to a template's use of
        # one through a filter (rendered by Jinja), and a body with no value of its own
        '<p>{{ customer_name }}</p><a href="{{unsubscribe_url}}">Leave</a> '
        "{{ unsubscribe_url }} {{ unsubscribe_url|upper }}",
        "<p>Hello</p>",
    ]
    people = [
        {"customer_name": "Ann & <Co>", "territory": "North"},
        {"customer_name": 'O\'Brien "Wines"', "territory": "", "rep_name": "Sam"},
    ]
    with app.test_request_context():
        for source in templates:
            prepared = sending.prepare_template(source, app.config["PUBLIC_BASE_URL"])
            assert prepared is not None, source
            numbers = list(range(len(prepared.links)))
            for person in people:
                rendered, parts = sending.render_prepared(7, "s", prepared, person, numbers)
                token = signing.sign("open", 7)
                values = {
                    **rendering.present_values(person),
                    "unsubscribe_url": sending.tracking.unsubscribe_url(7),
                    sending._OPEN: sending.tracking.pixel_url(token),
                    sending._PREFERENCES: sending.tracking.preferences_url(7),
                    **{
                        f"{sending._CLICK}{n}": sending.tracking.link_url(token, n) for n in numbers
                    },
                }
                whole = sandbox.render_bounded(rendering.compiled(prepared.html, True), values)
                assert rendered.html == whole
                assert rendered.text == rendering.html_to_text(whole)
                assert parts is not None and "".join(parts[0]) == rendered.html


def test_tokens_the_split_at_braces_would_misread_are_rendered_per_recipient(app):
    base = app.config["PUBLIC_BASE_URL"]
    for source in (
        "<p>Hi {{- customer_name }} !</p>",  # whitespace control eats the text around
        "<p>Hi {{ '}}' }} {{ customer_name }}</p>",  # braces inside a string
    ):
        assert sending.prepare_template(source, base) is None, source


def test_a_subject_without_tokens_is_sent_as_written(app):
    with app.test_request_context():
        prepared = sending.prepare_template("<p>Hi</p>", app.config["PUBLIC_BASE_URL"])
        assert prepared is not None
        for subject, expected in (
            ("  Spring\n allocations ", "Spring allocations"),
            ("Hi {{ customer_name }}", "Hi Ann"),
        ):
            rendered, _ = sending.render_prepared(
                3, subject, prepared, {"customer_name": "Ann"}, []
            )
            assert rendered.subject == expected
