"""Sandboxed templates: tokens, fallbacks, refusals at save time, sanitising, text parts."""

from __future__ import annotations

import pytest

from app.messaging.rendering import (
    TemplateProblem,
    check_template,
    html_to_text,
    render,
    render_email,
    sanitise_html,
)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("Hi {{ nobody }}", "nobody"),
        ("{{ customer_name.__class__ }}", "__class__"),
        ("{{ customer_name['__class__'] }}", "__class__"),
        ("{{ customer_name.upper() }}", "upper"),
        ("{{ cycler.__init__.__globals__ }}", "__globals__"),
        ("{% for x in range(10**9) %}{% endfor %}", "function calls"),
        ("{{ customer_name|attr('__class__') }}", "attr"),
        ("{% if %}", "syntax error"),
    ],
)
def test_unsafe_or_unknown_templates_are_refused_naming_the_problem(source, needle):
    with pytest.raises(TemplateProblem) as excinfo:
        check_template(source, "html", {"wine_club"}, html=True)
    assert excinfo.value.field == "html"
    assert needle in excinfo.value.message


def test_known_tokens_custom_fields_and_fallbacks_render():
    source = "Hi {{ customer_name|default('there') }}, {{ wine_club }} / {{ seats|default(0) }}"
    check_template(source, "html", {"wine_club", "seats"}, html=True)
    out = render(source, {"customer_name": "", "wine_club": True}, html=True)
    assert out == "Hi there, True / 0"


def test_html_is_autoescaped_but_sms_text_is_not():
    context = {"customer_name": "<b>Bad & Co</b>"}
    assert render("{{ customer_name }}", context, html=True) == "&lt;b&gt;Bad &amp; Co&lt;/b&gt;"
    assert render("{{ customer_name }}", context, html=False) == "<b>Bad & Co</b>"


def test_sanitiser_strips_script_handlers_and_js_urls_but_keeps_tokens():
    dirty = (
        '<p onclick="steal()">Hi {{customer_name}}</p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><a href="https://shop.example/p">Shop</a>'
    )
    clean = sanitise_html(dirty)
    assert "script" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "{{customer_name}}" in clean and 'href="https://shop.example/p"' in clean


def test_email_gets_inlined_css_and_a_text_part():
    html = (
        "<style>p.lead { color: #7b2340; }</style><p class='lead'>Hello {{ customer_name }}</p>"
        "<p>See <a href='https://shop.example/new'>the new vintages</a></p>"
    )
    email = render_email("  New\n wines for {{ customer_name }} ", html, {"customer_name": "Ana"})
    assert email.subject == "New wines for Ana"
    assert 'style="color: #7b2340' in email.html
    assert "Hello Ana" in email.text
    assert "the new vintages (https://shop.example/new)" in email.text


def test_text_part_drops_style_content():
    assert html_to_text("<style>.x{}</style><div>A</div><div>B</div>") == "A\nB"


def test_text_part_reads_character_references_once():
    # The HTML for the text "Fish &amp; chips" (say, a customer's name written so).
    html = '<p>Fish &amp;amp; chips &lt;3</p><a href="https://x.example/?a=1&amp;b=2">go</a>'
    assert html_to_text(html) == "Fish &amp; chips <3\n\ngo (https://x.example/?a=1&b=2)"


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        ('<a href="{{ site }}">x</a>', False),
        ('<a href=" {{ site }}">x</a>', False),
        ('<a href="java{{ rest }}">x</a>', False),
        ('<img src="{{ site }}">', False),
        ('<a href="https://shop.example/{{ site }}">x</a>', True),  # a path, not a scheme
        ('<a title="{{ site }}">x</a>', True),  # not a URL: only escaped
    ],
)
def test_a_value_cannot_choose_a_links_scheme(source, kept):
    context = {"site": "JavaScript:alert(1)", "rest": "script:alert(1)"}
    out = render(source, context, html=True)
    assert ("alert(1)" in out) is kept, out
    safe = render(source, {"site": "https://ok.example/a", "rest": "x"}, html=True)
    assert "ok.example" in safe or "javax" in safe


def test_tokens_where_escaping_is_not_enough_meet_the_sanitiser():
    out = render(
        "<a href={{ site }} {{ more }}>x</a>", {"site": "x", "more": "onclick=alert(1)"}, html=True
    )
    assert "onclick" not in out
