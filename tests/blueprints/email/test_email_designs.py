"""Real designs survive: each fixture saved through the API, sent through the SMTP provider
to the local sink, the raw message parsed with the strict policy, and its HTML compared
with the original as element trees (nothing lost but what is dangerous)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from justhtml import Comment, JustHTML

from blueprints.email import links, tracking
from tests.conftest import app_settings
from tests.fakes.smtp import SmtpSink

DESIGNS = Path(__file__).parents[2] / "fixtures" / "email_designs"
NAME = "Abernathy & Kowalski"
ADDRESS = "Cellar & Vine, 12 Quay St, Portland OR 97201"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as started:
        yield started


@pytest.fixture
def app_config(database_url, sink):
    return app_settings(
        database_url,
        EMAIL_PROVIDER="smtp",
        SMTP_HOST=sink.host,
        SMTP_PORT=sink.port,
        SMTP_STARTTLS=False,
        EMAIL_POSTAL_ADDRESS=ADDRESS,
    )


def design(name: str) -> str:
    return (DESIGNS / name).read_text()


def save(call, user, html: str) -> dict[str, Any]:
    payload = {"type": "email", "name": "Design", "subject": "Hi", "html": html}
    r = call(user, "post", "/templates", json=payload)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def send(call, user, customer, template_id: str, sink: SmtpSink) -> email.message.EmailMessage:
    r = call(
        user,
        "post",
        "/email/send",
        json={"to": customer.email, "customerId": customer.public_id, "templateId": template_id},
    )
    assert r.status_code == 201 and r.get_json()["status"] == "sent", r.get_json()
    message = email.message_from_bytes(sink.received[-1].data, policy=email.policy.strict)
    assert isinstance(message, email.message.EmailMessage)
    return message


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content()).replace("\r\n", "\n")


def elements(source: str) -> list[Any]:
    out: list[Any] = []

    def walk(node: Any) -> None:
        for child in node.children or ():
            if not str(child.name).startswith("#") and child.name != "!doctype":
                out.append(child)
            walk(child)

    walk(JustHTML(source, sanitize=False).root)
    return out


def comments(source: str) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        for child in node.children or ():
            if isinstance(child, Comment):
                found.append(child.data)
            walk(child)

    walk(JustHTML(source, sanitize=False).root)
    return found


def original_url(href: str) -> str:
    """The address behind a click-tracking link (``/email/t/c/<token>/<n>``), resolved the
    way the click redirect resolves it: the message's stored link ``n``."""
    token, number = href.rstrip("/").rsplit("/", 2)[-2:]
    message, _ = tracking.message_from_token("open", token)
    assert message is not None, href
    url = links.resolve(message, int(number))
    assert url is not None, href
    return url


def assert_same_design(original: str, sent: str, tokens: dict[str, str]) -> None:
    """Every element of ``original`` is in ``sent`` in order with its id, class and layout
    attributes; links lead where they did (through the click redirect); styles and
    comments are all there (tokens filled in)."""
    before, after = elements(original), elements(sent)
    assert before[0].name == "html" and after[0].name == "html"
    for name, value in before[0].attrs.items():
        assert after[0].attrs.get(name) == value, name
    remaining = iter(after)
    for element in before:
        for candidate in remaining:
            if candidate.name == element.name and all(
                candidate.attrs.get(k) is not None for k in element.attrs if k != "style"
            ):
                break
        else:
            raise AssertionError(f"<{element.name} {element.attrs}> lost")
        for key, value in element.attrs.items():
            got = candidate.attrs[key]
            if key == "style":
                # css-inline rewrites declarations; each one is still there
                for declaration in filter(None, (d.strip() for d in (value or "").split(";"))):
                    prop = declaration.split(":", 1)[0].strip()
                    assert prop in got, (prop, got)
            elif key == "href" and "/email/t/c/" in (got or ""):
                assert original_url(got).split("?")[0] == value.split("?")[0]
            elif "{{" in (value or "") or "*|" in (value or ""):
                continue
            else:
                assert got == value, (element.name, key, value, got)
    styles_before = [e.to_text() for e in before if e.name == "style"]
    styles_after = " ".join(e.to_text() for e in after if e.name == "style")
    for style in styles_before:
        for rule in style.split("}"):
            assert " ".join(rule.split()).replace("{ #", "{#") in " ".join(
                styles_after.split()
            ).replace("{ #", "{#"), rule
    expected_comments = comments(original)
    for token, value in tokens.items():
        expected_comments = [c.replace(token, value) for c in expected_comments]
    assert comments(sent) == expected_comments


def test_responsive_design_survives_save_and_send(app, manager, make_customer, call, sink):
    original = design("responsive_hybrid.html")
    saved = save(call, manager, original)
    assert saved["sanitised"] == {"removed": []}
    assert saved["mergeTags"] == {"translated": [], "unknown": []}
    customer = make_customer("North", name=NAME)
    message = send(call, manager, customer, saved["id"], sink)
    html, text = parts(message)

    assert html.startswith('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"')
    assert "<title>Spring allocations from the Loire</title>" in html
    # tokens in the VML button's address (an Outlook conditional comment) are URL-encoded
    tokens = {"{{ customer_name }}": "Abernathy%20%26%20Kowalski", "{{ rep_name }}": "your%20rep"}
    assert_same_design(original, html, tokens)
    assert "reserve?account=Abernathy%20%26%20Kowalski&amp;rep=your%20rep" in html
    sent = elements(html)
    # a token inside an address is URL-encoded, inside text HTML-escaped
    reserve = next(e for e in sent if e.name == "a" and e.to_text() == "Reserve my cases")
    query = parse_qs(urlsplit(original_url(reserve.attrs["href"])).query)
    assert query == {"account": [NAME], "rep": ["your rep"]}
    assert "Spring allocations, Abernathy &amp; Kowalski" in html
    # data:, cid:, tel: and sms: keep their addresses
    sources = {e.attrs.get("src", "")[:10] for e in sent if e.name == "img"}
    assert {"data:image", "cid:chenin"} <= sources
    hrefs = {e.attrs.get("href") for e in sent if e.name == "a"}
    assert {"tel:+15035550142", "sms:+15035550142?body=RESERVE"} <= hrefs
    # the footer and pixel sit in the last content cell, in the template's font
    footer = next(e for e in sent if "decant-footer" in (e.attrs.get("class") or ""))
    cell = footer.parent
    assert cell.name == "td" and "Helvetica" in cell.attrs["style"]
    assert ADDRESS in footer.to_text() and "Unsubscribe" in footer.to_text()
    assert any(e.name == "img" and "/email/t/o/" in e.attrs.get("src", "") for e in cell.children)
    # the text part reads as text
    assert "Spring allocations, Abernathy & Kowalski" in text
    assert "Reserve my cases (http" in text and "Three growers" not in text
    assert "data:image" not in text and "\u200c" not in text and "/email/t/o/" not in text
    assert "text RESERVE (sms:+15035550142?body=RESERVE)." in text
    assert text.endswith(ADDRESS) and "\n\n\n" not in text


def test_mailchimp_export_is_translated_and_survives(app, manager, make_customer, call, sink):
    original = design("mailchimp_export.html")
    saved = save(call, manager, original)
    tags = saved["mergeTags"]
    assert {t["tag"]: t["token"] for t in tags["translated"]} == {
        "*|EMAIL|*": "{{ email }}",
        "*|FNAME|*": "{{ customer_name }}",
        "*|HTML:LIST_ADDRESS_HTML|*": "{{ postal_address }}",
        "*|MC:DATE|*": "{{ today }}",
        "*|UNSUB|*": "{{ unsubscribe_url }}",
        "*|UPDATE_PROFILE|*": "{{ preferences_url }}",
    }
    assert {t["tag"] for t in tags["unknown"]} == {
        "*|CURRENT_YEAR|*",
        "*|IF:MC_PREVIEW_TEXT|*",
        "*|LIST:COMPANY|*",
        "*|LNAME|*",
        "*|MC:SUBJECT|*",
        "*|MC_PREVIEW_TEXT|*",
    }
    assert "Hi {{ customer_name|default('there') }}," in saved["html"]
    assert "?who={{ customer_name|default('there')|urlencode }}" in saved["html"]
    customer = make_customer("North", name=NAME, email="buyer@abernathy.example")
    message = send(call, manager, customer, saved["id"], sink)
    html, text = parts(message)
    assert_same_design(original, html, {})
    assert "Hi Abernathy &amp; Kowalski," in html and "buyer@abernathy.example" in html
    assert ADDRESS.replace("&", "&amp;") in html
    assert "decant-footer" not in html  # the template places unsubscribe and address itself
    assert "@media only screen and (max-width: 480px)" in html and 'id="bodyCell"' in html
    unsubscribe = next(e for e in elements(html) if e.to_text() == "unsubscribe from this list")
    assert "/email/unsubscribe/" in unsubscribe.attrs["href"]


def test_dangerous_parts_are_removed_and_reported(app, manager, make_customer, call, sink):
    saved = save(call, manager, design("dangerous_bits.html"))
    removed = {r["what"]: r["count"] for r in saved["sanitised"]["removed"]}
    assert removed == {
        "<script>": 1,
        "<iframe>": 1,
        "<object>": 1,
        "<embed>": 1,
        "<form>": 1,
        "<input>": 1,
        "<button>": 1,
        "<link>": 1,
        "Outlook conditional comment with <script>": 1,
        "href attribute (javascript:)": 1,
        "onclick attribute": 1,
        "onerror attribute": 1,
        "onload attribute": 1,
    }
    message = send(call, manager, make_customer("North"), saved["id"], sink)
    html, _text = parts(message)
    lowered = html.lower()
    for gone in ("<script", "<iframe", "<object", "<embed", "<form", "onclick", "javascript:"):
        assert gone not in lowered
    assert "evil.example" not in lowered
    assert "fonts.googleapis.com/css?family=Lora" in html  # a web font stays
    assert "<title>Harvest news</title>" in html and 'class="intro"' in html


def test_the_template_page_says_what_saving_removed_and_translated(app, client, login, manager):
    from tests.conftest import csrf_from

    page_url = "/sales/marketing/templates"
    login(manager)
    page = client.get(page_url).get_data(as_text=True)
    html = design("dangerous_bits.html").replace("</body>", "<p>*|FNAME|* *|LNAME|*</p></body>")
    response = client.post(
        page_url,
        data={
            "csrf_token": csrf_from(page),
            "type": "email",
            "name": "Harvest",
            "subject": "Harvest news",
            "html": html,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Removed what could run or track:" in shown
    assert "&lt;script&gt; ×1" in shown and "onclick attribute ×1" in shown
    assert "*|FNAME|* → {{ customer_name }}" in shown
    assert "Merge tags Decant has no value for (left as written): *|LNAME|*" in shown


_DIFF_JS = """async ([a, b]) => {
  const load = (src) => new Promise((ok, bad) => {
    const img = new Image(); img.onload = () => ok(img); img.onerror = bad; img.src = src;
  });
  const [x, y] = await Promise.all([load(a), load(b)]);
  const pixels = (img) => {
    const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
    const g = c.getContext("2d"); g.drawImage(img, 0, 0);
    return g.getImageData(0, 0, img.width, img.height).data;
  };
  if (x.width !== y.width || x.height !== y.height) return [-1, 0];
  const p = pixels(x), q = pixels(y);
  let differing = 0;
  for (let i = 0; i < p.length; i += 4) {
    const d = Math.abs(p[i] - q[i]) + Math.abs(p[i+1] - q[i+1]) + Math.abs(p[i+2] - q[i+2]);
    if (d > 48) differing++;
  }
  return [differing, p.length / 4];
}"""


@pytest.mark.browser
def test_sent_design_looks_like_the_original_at_desktop_and_phone_width(
    app, manager, make_customer, call, sink, page
):
    """Chromium renders the original (tokens filled in) and the sent HTML at 600 and 375 px;
    above Decant's footer, almost no pixel differs."""
    import base64

    from jinja2 import Environment

    source = design("responsive_hybrid.html")
    saved = save(call, manager, source)
    customer = make_customer("North", name=NAME)
    sent, _text = parts(send(call, manager, customer, saved["id"], sink))
    values = {"customer_name": NAME, "rep_name": "your rep", "territory": "North"}
    original = Environment(autoescape=True).from_string(source).render(values)
    page.route("**/*", lambda route: route.abort())  # no network: remote images fail alike

    def shot(html: str, width: int, height: int | None = None) -> tuple[str, int]:
        page.set_viewport_size({"width": width, "height": 800})
        page.set_content(html)
        if height is None:
            footer = "document.querySelector('.decant-footer').getBoundingClientRect().top"
            height = int(page.evaluate(footer))
        clip = {"x": 0, "y": 0, "width": width, "height": height}
        png = page.screenshot(full_page=True, clip=clip)
        return "data:image/png;base64," + base64.b64encode(png).decode(), height

    for width in (600, 375):
        after, height = shot(sent, width)
        before, _ = shot(original, width, height)
        page.set_content("<html><body></body></html>")
        differing, total = page.evaluate(_DIFF_JS, [before, after])
        assert differing >= 0, f"screenshots differ in size at {width} px"
        assert total >= width * 300, (width, total)
        assert differing / total < 0.01, (width, differing, total)


def test_a_campaign_of_a_whole_document_keeps_it_and_fits_the_footer(
    app, manager, make_customer, make_list, call, sink
):
    """A campaign prepares its template once (footer, pixel and tracked links placed in the
    document) and fills each recipient's tokens: the document, its Outlook comments and
    the footer's place hold for every message."""
    from blueprints.email import sending

    source = design("responsive_hybrid.html")
    for query in ("{{ rep_name }}", "{{ rep_name|default('your rep') }}"):
        source = source.replace(f"?account={{{{ customer_name }}}}&amp;rep={query}", "")
    saved = save(call, manager, source)
    assert sending.prepare_template(saved["html"], app.config["PUBLIC_BASE_URL"]) is not None
    customers = [make_customer("North", name=f"Bistro {n}") for n in range(2)]
    payload = {"listId": make_list(manager, customers), "templateId": saved["id"]}
    r = call(manager, "post", "/email/send", json=payload)
    assert r.status_code == 202, r.get_json()
    assert len(sink.received) == 2
    for received, customer in zip(
        sorted(sink.received, key=lambda m: m.rcpt_tos[0]),
        sorted(customers, key=lambda c: c.email),
        strict=True,
    ):
        message = email.message_from_bytes(received.data, policy=email.policy.strict)
        html, text = parts(message)  # type: ignore[arg-type]
        assert html.startswith("<!DOCTYPE html PUBLIC") and "<title>" in html
        assert f"Spring allocations, {customer.name}" in html
        assert comments(html) == comments(source)
        cell = next(
            e for e in elements(html) if "decant-footer" in (e.attrs.get("class") or "")
        ).parent
        assert cell.name == "td" and "Helvetica" in cell.attrs["style"]
        assert ADDRESS.replace("&", "&amp;") in html and ADDRESS in text
