"""UTM parameters on a campaign's tracked links: added to http(s) destinations when the
links are stored, never over what the author wrote, never on mailto:, configurable; the
click goes where the stored link says (what was sent)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.attribution.utm import add_utm
from app.extensions import db
from app.messaging.models import Campaign
from blueprints.email.models import EmailLink, EmailMessage
from tests.app.test_crm_import import poster
from tests.blueprints.email.conftest import dev_messages
from tests.blueprints.email.test_tracking import _links

TAGS = {"utm_source": "decant", "utm_medium": "email", "utm_campaign": "cmp_X"}


def test_utm_is_added_after_the_query_and_before_the_fragment():
    assert add_utm("https://shop.example/barolo", TAGS) == (
        "https://shop.example/barolo?utm_source=decant&utm_medium=email&utm_campaign=cmp_X"
    )
    assert add_utm("http://shop.example/a?x=1&y=%20b#top", TAGS) == (
        "http://shop.example/a?x=1&y=%20b&utm_source=decant&utm_medium=email&utm_campaign=cmp_X#top"
    )


def test_what_the_author_wrote_is_kept():
    written = "https://shop.example/?UTM_Campaign=spring&utm_source=newsletter"
    assert add_utm(written, TAGS) == written + "&utm_medium=email"
    full = "https://shop.example/?utm_source=a&utm_medium=b&utm_campaign=c"
    assert add_utm(full, TAGS) == full


@pytest.mark.parametrize(
    "url",
    [
        "mailto:orders@cave.example?subject=Order",
        "tel:+33123456789",
        "/relative/page",
        "javascript:alert(1)",
        "https://[broken",
        "https:///no-host",
    ],
)
def test_only_http_links_get_utm(url):
    assert add_utm(url, TAGS) == url


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.lists(
        st.tuples(
            st.sampled_from(["a", "utm_source", "utm_medium", "utm_campaign", "utm_content"]),
            st.text("abc123-_", max_size=5),
        ),
        max_size=4,
    ),
)
def test_tagging_keeps_every_parameter_written_and_completes_the_three(scheme, written):
    query = "&".join(f"{k}={v}" for k, v in written)
    url = f"{scheme}://shop.example/p" + (f"?{query}" if query else "")
    tagged = add_utm(url, TAGS)
    assert tagged.startswith(url)  # nothing written is changed or dropped
    names = [k for k, _ in parse_qsl(urlsplit(tagged).query, keep_blank_values=True)]
    for name in TAGS:
        assert name in names
    authored = {k: v for k, v in reversed(written)}
    for name, value in parse_qsl(urlsplit(tagged).query[len(query) :], keep_blank_values=True):
        assert name not in authored  # only what was missing was added
        assert value == TAGS[name]
    assert add_utm(tagged, TAGS) == tagged  # idempotent


HTML = (
    '<p>Hi</p><a href="https://shop.example/barolo">Barolo</a>'
    ' <a href="https://shop.example/?utm_campaign=autumn-blog">Blog</a>'
    ' <a href="mailto:orders@cave.example">Order by email</a>'
)


def _send(call, manager, make_customer, make_list, html=HTML):
    customer = make_customer("North", email="chef@lapin.example")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"listId": make_list(manager, [customer]), "subject": "S", "html": html},
    )
    assert r.status_code == 202, r.get_json()
    message = db.session.scalar(
        db.select(EmailMessage).where(EmailMessage.campaign_id.is_not(None))
    )
    return message, db.session.get(Campaign, message.campaign_id)


def test_a_campaigns_stored_links_carry_its_utm_and_the_click_goes_there(
    client, manager, make_customer, make_list, call
):
    message, campaign = _send(call, manager, make_customer, make_list)
    stored = sorted(
        db.session.scalars(
            db.select(EmailLink.url).where(EmailLink.campaign_id == campaign.id)
        ).all()
    )
    tags = f"utm_source=decant&utm_medium=email&utm_campaign={campaign.public_id}"
    assert stored == [
        "https://shop.example/?utm_campaign=autumn-blog&utm_source=decant&utm_medium=email",
        f"https://shop.example/barolo?{tags}",
    ]
    [delivered] = dev_messages()
    assert "mailto:orders@cave.example" in delivered.html  # untouched, not tracked
    clicks = _links(delivered, "t/c")
    assert client.get(clicks[0]).headers["Location"] == f"https://shop.example/barolo?{tags}"
    # the body the customer got carries tracked links only, not the long tagged URLs
    assert "utm_source" not in delivered.html


def test_a_campaign_rendered_per_recipient_tags_its_own_links(
    client, manager, make_customer, make_list, call
):
    html = "{% if territory %}<p>{{ territory }}</p>{% endif %}" + HTML
    message, campaign = _send(call, manager, make_customer, make_list, html)
    own = db.session.scalars(
        db.select(EmailLink.url)
        .where(EmailLink.message_id == message.id)
        .order_by(EmailLink.number)
    ).all()
    assert own[0] == (
        "https://shop.example/barolo?utm_source=decant&utm_medium=email"
        f"&utm_campaign={campaign.public_id}"
    )


@pytest.fixture
def utm_off(app):
    app.config.update(TRACKING_UTM=False)


def test_utm_can_be_turned_off(client, manager, make_customer, make_list, call, utm_off):
    _message, campaign = _send(call, manager, make_customer, make_list)
    stored = db.session.scalars(
        db.select(EmailLink.url).where(EmailLink.campaign_id == campaign.id)
    ).all()
    assert sorted(stored) == [
        "https://shop.example/?utm_campaign=autumn-blog",
        "https://shop.example/barolo",
    ]


def test_the_source_is_a_setting(client, app, manager, make_customer, make_list, call):
    app.config.update(TRACKING_UTM_SOURCE="cave-lapin")
    _message, campaign = _send(call, manager, make_customer, make_list)
    stored = db.session.scalars(
        db.select(EmailLink.url).where(EmailLink.campaign_id == campaign.id)
    ).all()
    assert all("utm_source=cave-lapin" in url for url in stored)


def test_a_single_send_has_no_campaign_to_name(client, manager, make_customer, call, admin):
    customer = make_customer("North", email="solo@lapin.example")
    r = call(
        manager,
        "post",
        "/email/send",
        json={"customerId": customer.public_id, "subject": "S", "html": HTML},
    )
    assert r.status_code in (201, 202), r.get_json()
    stored = db.session.scalars(db.select(EmailLink.url).order_by(EmailLink.number)).all()
    assert stored == [
        "https://shop.example/barolo",
        "https://shop.example/?utm_campaign=autumn-blog",
    ]


def test_a_web_order_from_the_tagged_link_is_credited_to_the_campaign(
    client, token_headers, admin, manager, make_customer, make_list, call
):
    """The loop closed: the order carries the utm_campaign the link added."""
    message, campaign = _send(call, manager, make_customer, make_list)
    [delivered] = dev_messages()
    landing = client.get(_links(delivered, "t/c")[0]).headers["Location"]
    utm = dict(parse_qsl(urlsplit(landing).query))
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "BAR-19", "name": "Barolo", "unitPrice": 40}])
    customer_ref = message.customer_id
    from app.crm.models import Customer

    customer = db.session.get(Customer, customer_ref)
    row = {
        "externalId": "WEB-1",
        "customer": customer.public_id,
        "orderDate": "2026-11-30",
        "lines": [{"sku": "SKU-1", "quantity": 1}],
        "utmSource": utm["utm_source"],
        "utmMedium": utm["utm_medium"],
        "utmCampaign": utm["utm_campaign"],
    }
    report = post("orders", [row])
    order = client.get(
        f"/api/sales/orders/{report['rows'][0]['id']}", headers=token_headers(admin)
    ).get_json()
    assert order["utmCampaign"] == campaign.public_id
    assert order["attribution"]["attributedTo"]["campaignId"] == campaign.public_id
    assert order["attribution"]["attributedTo"]["kind"] == "utm"
