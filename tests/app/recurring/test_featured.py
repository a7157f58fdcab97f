"""Featured wines: ``{{ featured_wines }}`` filled from the catalogue by a rule when the
occurrence's campaign is created."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.crm.models import Sku
from app.errors import Invalid
from app.extensions import db
from app.messaging.models import Campaign
from app.recurring import engine
from app.recurring.models import RecurringOccurrence
from tests.app.recurring.conftest import soon, start_due_campaigns
from tests.blueprints.email.conftest import dev_messages

HTML = "<p>This week's specials:</p><div>{{ featured_wines }}</div><p>Cheers</p>"


@pytest.fixture
def catalogue(app):
    def sku(code, name, varietal, price, special=None, active=True):
        return Sku(
            code=code,
            name=name,
            varietal=varietal,
            producer="Domaine Test",
            vintage=2021,
            price=Decimal(price),
            special_price=Decimal(special) if special else None,
            active=active,
        )

    rows = [
        sku("PN1", "Bourgogne Rouge", "Pinot Noir", "30", "24"),  # 20% off
        sku("SY1", "Crozes-Hermitage", "Syrah", "20"),
        sku("PN2", "Volnay", "Pinot Noir", "50", "45"),  # 10% off
        sku("OLD", "Old Stock", "Merlot", "10", "5", active=False),
        sku("CH1", "Chablis", "Chardonnay", "25"),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _campaign_html(list_id, make_recurring, rule) -> str:
    make_recurring(list_id, html=HTML, starts_at=soon(30), featured=rule)
    engine.run_due()
    return db.session.scalars(select(Campaign)).one().html


def test_wines_on_special_fill_the_block_best_deal_first(audience, catalogue, make_recurring):
    list_id, _ = audience
    html = _campaign_html(list_id, make_recurring, {"rule": "on_special", "count": 5})
    assert "{{ featured_wines }}" not in html
    assert "Bourgogne Rouge" in html and "Volnay" in html
    assert html.index("Bourgogne Rouge") < html.index("Volnay")  # 20% off before 10% off
    assert "Crozes" not in html and "Chablis" not in html  # not on special
    assert "Old Stock" not in html  # no longer sold
    assert "$24.00" in html and "<s" in html and "$30.00" in html
    assert html.startswith("<p>This week's specials:</p>") and "Cheers" in html


def test_by_varietal_and_newest_pick_by_their_rule(
    audience, catalogue, make_recurring, make_list, manager
):
    list_id, _ = audience
    html = _campaign_html(list_id, make_recurring, {"rule": "varietal", "varietal": "pinot noir"})
    assert "Bourgogne Rouge" in html and "Volnay" in html and "Chablis" not in html
    db.session.query(Campaign).delete()
    db.session.query(RecurringOccurrence).delete()
    db.session.commit()
    html = _campaign_html(list_id, make_recurring, {"rule": "newest", "count": 1})
    assert "Chablis" in html and "Volnay" not in html  # the last added and still sold


def test_a_wine_name_never_becomes_a_template_token(audience, catalogue, make_recurring):
    list_id, customers = audience
    catalogue[1].special_price = Decimal("15")
    catalogue[1].name = "Cuvée {{ rep_name }} {% for x in y %}"
    db.session.commit()
    html = _campaign_html(list_id, make_recurring, {"rule": "on_special", "count": 5})
    assert "Cuvée &#123;&#123; rep_name &#125;&#125; &#123;% for x in y %&#125;" in html
    start_due_campaigns()
    sent = dev_messages()
    assert len(sent) == len(customers)
    body = sent[0].html
    assert "Cuvée {{ rep_name }} {% for x in y %}</p>" in body  # as text, not as code


def test_no_wine_on_special_skips_the_week_with_the_reason(audience, make_recurring):
    list_id, _ = audience
    make_recurring(list_id, html=HTML, starts_at=soon(30), featured={"rule": "on_special"})
    engine.run_due()
    row = db.session.scalars(select(RecurringOccurrence)).one()
    assert row.state == "skipped" and "no wine" in row.note
    assert db.session.scalars(select(Campaign)).all() == []


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"rule": "cheapest"}, "featured.rule"),
        ({"rule": "varietal"}, "featured.varietal"),
        ({"rule": "newest", "count": 40}, "featured.count"),
    ],
)
def test_bad_featured_rules_name_the_field(audience, make_recurring, given, field):
    list_id, _ = audience
    with pytest.raises(Invalid) as caught:
        make_recurring(list_id, html=HTML, featured=given)
    assert field in caught.value.fields


def test_a_featured_rule_needs_the_token_in_the_message(audience, make_recurring):
    list_id, _ = audience
    with pytest.raises(Invalid) as caught:
        make_recurring(list_id, html="<p>No place</p>", featured={"rule": "newest"})
    assert "featured_wines" in caught.value.fields["featured.rule"]


def test_a_designed_template_with_the_featured_block_fills_itself(
    call, manager, audience, catalogue, make_recurring
):
    """The designer's "Featured wines" block (MJML) saved as a template; a recurring
    campaign from that template gets the wines in its campaign."""
    mjml = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ customer_name }}</mj-text>"
        "</mj-column></mj-section>"
        '<mj-section background-color="#ffffff" css-class="featured-wines">'
        "<mj-column><mj-text>{{ featured_wines }}</mj-text></mj-column></mj-section>"
        "</mj-body></mjml>"
    )
    r = call(
        manager,
        "post",
        "/templates",
        json={"type": "email", "name": "Weekly", "subject": "Specials", "mjml": mjml},
    )
    assert r.status_code == 201, r.get_json()
    make_recurring(
        audience[0],
        subject=None,
        html=None,
        template_id=r.get_json()["id"],
        starts_at=soon(30),
        featured={"rule": "varietal", "varietal": "Syrah"},
    )
    engine.run_due()
    html = db.session.scalars(select(Campaign)).one().html
    assert "Crozes-Hermitage" in html and "Volnay" not in html
    assert "featured_wines" not in html and "Hello {{ customer_name }}" in html
