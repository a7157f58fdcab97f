"""Revenue attributed per campaign, template, rep, territory and SKU bought: each breakdown
of the API sums to the credited orders' raw totals, rows agree with sums computed here from
the orders as imported, a rep sees their territory, bad input names the field, and the
page and its CSV show the same rows."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.attribution.models import ATTRIBUTED, OrderTouch
from app.crm.models import Order
from app.extensions import db
from app.messaging.models import Campaign, Template
from tests.app.test_crm_import import poster

API = "/api/sales/marketing/revenue"
PERIOD = "from=2026-11-01&to=2026-12-01"
PRICES = {"SKU-B": Decimal("40.00"), "SKU-C": Decimal("25.50"), "SKU-R": Decimal("12.00")}


@pytest.fixture
def world(client, token_headers, admin, make_user, make_customer):
    """Three campaigns (two templates, one without), two reps, customers in two
    territories and orders credited by their UTM campaign; one cancelled, one outside the
    period, one credited to nothing."""
    north_rep, south_rep = make_user("rep", "North"), make_user("rep", "South")
    post = poster(client, token_headers(admin))
    post(
        "skus",
        [
            {"externalId": code, "code": code, "name": f"Wine {code}", "unitPrice": str(price)}
            for code, price in PRICES.items()
        ],
    )
    customers = {
        "C-1": make_customer("North", external_id="C-1", rep=north_rep),
        "C-2": make_customer("North", external_id="C-2", rep=north_rep),
        "C-3": make_customer("South", external_id="C-3", rep=south_rep),
        "C-4": make_customer("South", external_id="C-4"),
    }
    barolo = Template(type="email", name="Barolo launch", subject="s", html="<p>x</p>")
    texts = Template(type="sms", name="Weekend text", body="Hi")
    db.session.add_all([barolo, texts])
    db.session.flush()
    campaigns = {
        "launch": Campaign(channel="email", name="Launch", status="sent", template_id=barolo.id),
        "relaunch": Campaign(
            channel="email", name="Relaunch", status="sent", template_id=barolo.id
        ),
        "adhoc": Campaign(channel="email", name="Ad hoc", status="sent"),
        "weekend": Campaign(channel="sms", name="Weekend", status="sent", template_id=texts.id),
    }
    db.session.add_all(campaigns.values())
    db.session.commit()
    # (order, customer, day, keyed by, campaign, status, lines)
    orders = [
        ("O-1", "C-1", "2026-11-03", None, "launch", "delivered", {"SKU-B": 6, "SKU-C": 2}),
        ("O-2", "C-2", "2026-11-04", south_rep, "relaunch", "invoiced", {"SKU-B": 1}),
        ("O-3", "C-3", "2026-11-10", None, "adhoc", "delivered", {"SKU-C": 12, "SKU-R": 3}),
        ("O-4", "C-4", "2026-11-11", None, "weekend", "shipped", {"SKU-R": 24}),
        ("O-5", "C-3", "2026-11-12", None, "weekend", "delivered", {"SKU-B": 2, "SKU-R": 1}),
        ("O-6", "C-1", "2026-11-20", None, "launch", "cancelled", {"SKU-B": 100}),
        ("O-7", "C-2", "2026-10-20", None, "launch", "delivered", {"SKU-B": 50}),
        ("O-8", "C-4", "2026-11-21", None, None, "delivered", {"SKU-C": 7}),
    ]
    rows = []
    for ref, customer, day, keyed_by, campaign, status, lines in orders:
        row = {
            "externalId": ref,
            "customer": customer,
            "orderDate": day,
            "status": status,
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines.items()],
        }
        if keyed_by is not None:
            row["rep"] = keyed_by.email
        if campaign is not None:
            row["utmCampaign"] = campaigns[campaign].public_id
        rows.append(row)
    assert post("orders", rows)["rejected"] == 0
    return {
        "orders": orders,
        "customers": customers,
        "campaigns": campaigns,
        "templates": {"Barolo launch": barolo, "Weekend text": texts},
        "reps": {"north": north_rep, "south": south_rep},
    }


def _credited(world, territory: str | None = None):
    """The orders the period credits, as imported: (order, customer, keyed by, campaign,
    lines)."""
    out = []
    for ref, customer, day, keyed_by, campaign, status, lines in world["orders"]:
        if campaign is None or status == "cancelled" or not "2026-11-01" <= day < "2026-12-01":
            continue
        if territory and world["customers"][customer].territory.name != territory:
            continue
        out.append((ref, customer, keyed_by, campaign, lines))
    return out


def _total(lines) -> Decimal:
    return sum((PRICES[sku] * q for sku, q in lines.items()), Decimal(0))


def _get(client, headers, query: str):
    answer = client.get(f"{API}?{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_every_breakdown_sums_to_the_credited_orders(client, token_headers, manager, world):
    raw_revenue = db.session.scalar(
        select(func.sum(Order.total))
        .join(OrderTouch, OrderTouch.order_id == Order.id)
        .where(
            OrderTouch.role == ATTRIBUTED,
            Order.order_date >= date(2026, 11, 1),
            Order.order_date < date(2026, 12, 1),
        )
    )
    expected_total = sum((_total(lines) for *_, lines in _credited(world)), Decimal(0))
    assert Decimal(raw_revenue) == expected_total == Decimal("1053.00")
    headers = token_headers(manager)
    for by in ("campaign", "template", "rep", "territory", "sku"):
        figures = _get(client, headers, f"by={by}&{PERIOD}")
        assert figures["orders"] == 5
        assert Decimal(figures["revenue"]) == expected_total
        assert sum(Decimal(r["revenue"]) for r in figures["rows"]) == expected_total
        if by != "sku":  # an order of several SKUs is a row under each
            assert sum(r["orders"] for r in figures["rows"]) == 5


def _rows(figures):
    return {r["label"]: (r["orders"], r["revenue"]) for r in figures["rows"]}


def _expected(groups):
    return {
        label: (len(refs), f"{sum(totals, Decimal(0)):.2f}")
        for label, (refs, totals) in groups.items()
    }


def _group(world, key):
    groups: dict[str, tuple[set[str], list[Decimal]]] = defaultdict(lambda: (set(), []))
    for ref, customer, keyed_by, campaign, lines in _credited(world):
        label = key(customer, keyed_by, campaign)
        groups[label][0].add(ref)
        groups[label][1].append(_total(lines))
    return _expected(groups)


def test_rows_per_campaign_template_rep_and_territory(client, token_headers, manager, world):
    headers = token_headers(manager)
    names = {k: c.name for k, c in world["campaigns"].items()}
    templates = {"launch": "Barolo launch", "relaunch": "Barolo launch", "weekend": "Weekend text"}
    customers = world["customers"]

    def seller(customer, keyed_by):
        rep = keyed_by or customers[customer].rep
        return rep.name if rep else "(no rep)"

    by_campaign = _get(client, headers, f"by=campaign&{PERIOD}")
    assert _rows(by_campaign) == _group(world, lambda c, k, campaign: names[campaign])
    channels = {r["label"]: r["channel"] for r in by_campaign["rows"]}
    assert channels["Weekend"] == "sms" and channels["Launch"] == "email"
    assert by_campaign["rows"][0]["label"] == "Weekend"  # highest revenue first (380.00)
    assert _rows(_get(client, headers, f"by=template&{PERIOD}")) == _group(
        world, lambda c, k, campaign: templates.get(campaign, "(written without a template)")
    )
    by_rep = _get(client, headers, f"by=rep&{PERIOD}")
    assert _rows(by_rep) == _group(world, lambda c, k, campaign: seller(c, k))
    # O-2 is on a North account but the South rep keyed it: the seller gets it
    assert _rows(by_rep)[world["reps"]["south"].name][0] == 3  # O-2, O-3, O-5
    assert _rows(_get(client, headers, f"by=territory&{PERIOD}")) == _group(
        world, lambda c, k, campaign: customers[c].territory.name
    )


def test_rows_per_sku_bought(client, token_headers, manager, world):
    figures = _get(client, token_headers(manager), f"by=sku&{PERIOD}")
    expected: dict[str, list] = defaultdict(lambda: [set(), Decimal(0), 0])
    for ref, _c, _k, _campaign, lines in _credited(world):
        for sku, quantity in lines.items():
            expected[f"Wine {sku}"][0].add(ref)
            expected[f"Wine {sku}"][1] += PRICES[sku] * quantity
            expected[f"Wine {sku}"][2] += quantity
    got = {
        r["label"]: (r["orders"], r["revenue"], r["bottles"], r["code"]) for r in figures["rows"]
    }
    assert got == {
        label: (len(refs), f"{revenue:.2f}", bottles, label.removeprefix("Wine "))
        for label, (refs, revenue, bottles) in expected.items()
    }


def test_a_rep_sees_their_territory(client, token_headers, world):
    north = world["reps"]["north"]
    figures = _get(client, token_headers(north), f"by=territory&{PERIOD}")
    assert [r["label"] for r in figures["rows"]] == ["North"]
    expected = sum((_total(lines) for *_, lines in _credited(world, "North")), Decimal(0))
    assert Decimal(figures["revenue"]) == expected
    refused = client.get(f"{API}?territory=South", headers=token_headers(north))
    assert refused.status_code == 422 and "territory" in refused.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("by=wine", "by"),
        ("from=yesterday", "from"),
        ("from=2026-12-01&to=2026-11-01", "from"),
        ("territory=Atlantis", "territory"),
    ],
)
def test_bad_input_names_the_field(client, token_headers, manager, query, field):
    answer = client.get(f"{API}?{query}", headers=token_headers(manager))
    assert answer.status_code == 422
    assert field in answer.get_json()["error"]["fields"]


def test_the_page_and_its_csv(client, login, manager, world):
    login(manager)
    dashboard = client.get("/sales/marketing/dashboard").get_data(as_text=True)
    assert "/sales/marketing/revenue" in dashboard  # reached from the dashboard
    page = client.get(f"/sales/marketing/revenue?by=sku&{PERIOD}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="revenue-total">1053.00<' in html and "Wine SKU-B" in html
    assert '<label class="form-label" for="rev-by">' in html
    exported = client.get(f"/sales/marketing/revenue.csv?by=rep&{PERIOD}")
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["rep", "id", "orders", "revenue"] and rows[-1] == [
        "total",
        "",
        "5",
        "1053.00",
    ]
    api_rows = _get(client, {}, f"by=rep&{PERIOD}")["rows"]
    assert [(r[0], int(r[2]), r[3]) for r in rows[1:-1]] == [
        (r["label"], r["orders"], r["revenue"]) for r in api_rows
    ]
    bad = client.get("/sales/marketing/revenue?by=wine")
    assert bad.status_code == 422 and "one of campaign" in bad.get_data(as_text=True)


def test_the_page_needs_a_login(client):
    answer = client.get("/sales/marketing/revenue")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
