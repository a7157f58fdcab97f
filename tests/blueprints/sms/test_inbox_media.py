"""An inbound MMS's media URLs come from whoever called the webhook: the inbox and the
customer page link only the http(s) ones."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from blueprints.sms.media import web_media


def test_only_web_media_is_linked(client, login, manager, make_customer, opt_in, inbound):
    from blueprints.sms.models import SmsConversation

    customer = make_customer(phone="+12125550177", name="Cave Sud")
    opt_in(customer)
    urls = [
        "javascript:alert(1)",
        " java\tscript:alert(2)",
        "data:text/html,<script>alert(3)</script>",
        "https://api.twilio.com/media/ME1.jpg",
    ]
    media = {f"MediaUrl{i}": url for i, url in enumerate(urls)}
    response = inbound("+12125550177", "see pictures", NumMedia=str(len(urls)), **media)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    login(manager)
    conversation = db.session.scalar(select(SmsConversation.public_id))
    for path in (
        f"/sales/marketing/sms/{conversation}",
        f"/sales/customers/{customer.public_id}",
    ):
        page = client.get(path).get_data(as_text=True)
        assert "see pictures" in page, path
        assert 'href="https://api.twilio.com/media/ME1.jpg"' in page, path
        assert "media 1" in page and "media 2" not in page, path
        assert "javascript:" not in page.lower() and "data:text" not in page, path


def test_web_media_reads_urls_as_a_browser_does():
    assert web_media(["HTTPS://x.example/a", "http://y.example", "  https://z.example/ "]) == [
        "HTTPS://x.example/a",
        "http://y.example",
        "https://z.example/",
    ]
    assert web_media(["java\nscript:x", "//evil.example", "https:", "ftp://f", 3, None]) == []
    assert web_media(None) == []
