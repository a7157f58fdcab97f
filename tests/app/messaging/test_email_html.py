"""Keep-the-document sanitising, Mailchimp merge tags, tokens in addresses, CSS inlining,
the plain-text part and the footer's place, each on small inputs written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from justhtml import JustHTML

from app.messaging import email_html, email_text, footer, merge_tags, rendering, url_tokens

DESIGNS = Path(__file__).parents[2] / "fixtures" / "email_designs"
DOC = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>T</title>'
    "<style>@media (max-width:600px){#c{width:100%!important}}</style></head>"
    '<body style="margin:0"><table id="c" width="600"><tr><td style="font-family:Lora">'
    "{body}</td></tr></table></body></html>"
)


def doc(body: str) -> str:
    return DOC.replace("{body}", body)


def test_the_document_frame_stays():
    cleaned, removed = email_html.sanitise(doc("<p>Hi</p>"))
    assert removed == []
    assert cleaned.startswith('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
    assert "<title>T</title>" in cleaned and '<body style="margin:0">' in cleaned
    assert "{ #c{width:100%!important}}" in cleaned  # "{#" would open a Jinja comment
    rendering.check_template(cleaned, "html", set(), html=True)


def test_harmless_conditional_comments_stay_byte_for_byte():
    vml = (
        "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/>"
        "</o:OfficeDocumentSettings></xml><![endif]-->"
    )
    source = doc(vml + "<!--[if !mso]><!-- --><p>web</p><!--<![endif]-->")
    cleaned, removed = email_html.sanitise(source)
    assert removed == [] and vml in cleaned and "<!--[if !mso]><!-- -->" in cleaned


@pytest.mark.parametrize(
    "inside, what",
    [
        ("<script>alert(1)</script>", "<script>"),
        ('<v:rect onclick="x()"></v:rect>', "onclick attribute"),
        (
            '<v:roundrect href="javascript:alert(1)"></v:roundrect>',
            "href with a disallowed address",
        ),
        ('<div style="width:expression(alert(1))"></div>', "style that can run"),
        ("<style>td { behavior: url(x.htc) }</style>", "style that can run"),
    ],
)
def test_a_conditional_comment_holding_something_runnable_goes(inside, what):
    source = doc(f"<!--[if mso]>{inside}<![endif]--><p>kept</p>")
    cleaned, removed = email_html.sanitise(source)
    assert "[if mso]" not in cleaned and "<p>kept</p>" in cleaned
    assert [r.as_json() for r in removed] == [
        {"what": f"Outlook conditional comment with {what}", "count": 1}
    ]


def test_addresses_keep_their_scheme_only_where_it_is_safe():
    body = (
        '<img src="data:image/png;base64,AAAA" alt="a"><img src="cid:logo@x" alt="b">'
        '<img src="data:text/html;base64,AAAA" alt="c"><a href="data:text/html,x">d</a>'
        '<a href="cid:logo@x">e</a><a href="sms:+15035550142">f</a><a href="tel:+1503">g</a>'
        '<a href="vbscript:x">h</a><td background="javascript:x">i</td>'
    )
    cleaned = email_html.clean(doc(body))
    assert 'src="data:image/png;base64,AAAA"' in cleaned and 'src="cid:logo@x"' in cleaned
    assert 'href="sms:+15035550142"' in cleaned and 'href="tel:+1503"' in cleaned
    for gone in ("data:text/html", 'href="cid:', "vbscript", "javascript"):
        assert gone not in cleaned


def test_only_web_font_stylesheets_and_harmless_meta_stay():
    head = (
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css2?family=Lora">'
        '<link rel="stylesheet" href="https://tracker.example/s.css">'
        '<meta http-equiv="refresh" content="0;url=https://evil.example">'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">'
    )
    source = doc("x").replace("<title>", head + "<title>")
    cleaned, removed = email_html.sanitise(source)
    assert "fonts.googleapis.com" in cleaned and "X-UA-Compatible" in cleaned
    assert "tracker.example" not in cleaned and "refresh" not in cleaned
    assert {r.what: r.count for r in removed} == {"<link>": 1, "<meta>": 1}


def test_a_rendered_template_keeps_its_document():
    """Templates Jinja renders (blocks) are cleaned again after rendering: that cleaning
    keeps the head, ids and conditional comments too."""
    source = doc(
        "<!--[if mso]><b>o</b><![endif]-->{% if territory %}<p>{{ territory }}</p>{% endif %}"
    )
    out = rendering.render(email_html.sanitise(source)[0], {"territory": "North"}, html=True)
    assert out.startswith("<!DOCTYPE html>") and "<title>T</title>" in out
    assert 'id="c"' in out and "<!--[if mso]><b>o</b><![endif]-->" in out and "<p>North</p>" in out


def test_tokens_in_addresses_are_url_encoded_where_they_are_data():
    assert url_tokens.encode_in_address("{{ unsubscribe_url }}") == "{{ unsubscribe_url }}"
    assert url_tokens.encode_in_address("mailto:{{ email }}") == "mailto:{{ email }}"
    assert (
        url_tokens.encode_in_address(
            "https://x.example/o?n={{ customer_name }}&t={{ wine|default('red') }}"
        )
        == "https://x.example/o?n={{ customer_name|default('there')|urlencode }}"
        "&t={{ wine|default('red')|urlencode }}"
    )
    once = url_tokens.encode_in_address("https://x.example/{{ territory }}/")
    assert url_tokens.encode_in_address(once) == once  # idempotent


def test_an_encoded_token_renders_url_encoded_with_its_fallback():
    saved, _ = email_html.sanitise(
        '<a href="https://x.example/o?n={{ customer_name }}">{{ customer_name }}</a>'
    )
    out = rendering.render(saved, {"customer_name": "Abernathy & Kowalski"}, html=True)
    assert out == (
        '<a href="https://x.example/o?n=Abernathy%20%26%20Kowalski">Abernathy &amp; Kowalski</a>'
    )
    assert "?n=there" in rendering.render(saved, {"customer_name": ""}, html=True)


def test_merge_tags_become_tokens_and_unknown_ones_are_reported():
    source = (
        "*|IF:FNAME|**|FNAME|**|ELSE:|*there*|END:IF|* "
        "*|IF:REP|*Your rep *|REP|**|ELSE:|*Us*|END:IF|* *|IFNOT:TERRITORY|*far*|END:IF|* "
        '<a href="*%7CUNSUB%7C*">u</a> *|LIST:ADDRESS|* *|WINE_CLUB|* *|LNAME|* '
        "*|IF:NICKNAME|*n*|END:IF|*"
    )
    out, report = merge_tags.translate(source, lambda names: {"wine_club"} & set(names))
    assert out == (
        "{{ customer_name|default('there') }} "
        "{% if rep_name %}Your rep {{ rep_name }}{% else %}Us{% endif %} "
        "{% if not territory %}far{% endif %} "
        '<a href="{{ unsubscribe_url }}">u</a> {{ postal_address }} {{ wine_club }} *|LNAME|* '
        "*|IF:NICKNAME|*n*|END:IF|*"
    )
    assert report.as_json()["unknown"] == [
        {"tag": "*|IF:NICKNAME|*", "count": 1},
        {"tag": "*|LNAME|*", "count": 1},
    ]


def test_inlining_keeps_style_blocks_link_tags_and_the_doctype():
    source = (DESIGNS / "responsive_hybrid.html").read_text()
    out = email_html.inline_css(source)
    assert out.startswith('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"')
    assert "@media only screen and (max-width: 620px)" in out
    assert "fonts.googleapis.com" in out
    container = JustHTML(out, sanitize=False).query_one("#container")
    assert "width: 600px" in container.attrs["style"]  # inlined from the style block


def test_the_text_part_reads_as_text():
    html = (
        '<div style="display:none">Preheader&zwnj;&nbsp;&#847;</div>'
        "<p>Hello&nbsp;there&zwnj;</p>"
        '<a href="https://t.example/c/1"><img src="https://x/s.gif" alt=""></a>'
        '<a href="https://t.example/c/2"><img src="https://x/b.png" alt="Shop the sale"></a>'
        '<p><a href="https://example.com">https://example.com</a> '
        '<a href="mailto:a@b.example">a@b.example</a> <a href="https://e.example/x">More</a></p>'
        '<img src="https://x/spacer.gif" width="1" height="1" alt="">'
    )
    assert email_text.html_to_text(html) == (
        "Hello there\n\nShop the sale (https://t.example/c/2)\n\n"
        "https://example.com a@b.example More (https://e.example/x)"
    )


def test_the_footer_goes_in_the_last_content_cell_of_a_document():
    body = doc("<p>Hi</p>")
    placed = footer.place(body, footer.footer_html("https://u.example", None, "1 Quay St"))
    cell = JustHTML(placed, sanitize=False).query_one("td")
    assert cell.attrs["style"] == "font-family:Lora"
    assert [c.name for c in cell.children] == ["p", "p"]
    assert "1 Quay St" in cell.to_text() and placed.endswith(
        "</td></tr></tbody></table></body></html>"
    )
    fragment = footer.place("<p>Hi</p>", "<p>F</p>")
    assert fragment == "<p>Hi</p><p>F</p>"


def test_a_template_placing_unsubscribe_and_address_gets_no_footer():
    assert footer.needs("<a href='{{ unsubscribe_url }}'>u</a> {{ postal_address }}") == (
        False,
        False,
    )
    assert footer.footer_html(None, None, None) == ""
    assert footer.needs("<p>{{ unsubscribe_url }}</p>") == (False, True)
