"""POST /api/sales/import/<entity>: bulk upserts by external id, through the real API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from app.crm.models import Customer, Order, OrderLine, Sku, Territory
from app.extensions import db

TERRITORIES = [
    {"externalId": "T-NW", "name": "Northwest", "timezone": "America/Los_Angeles"},
    {"externalId": "T-SE", "name": "Southeast"},
]
SKUS = [
    {
        "externalId": "SKU-1001",
        "code": "BAR-19",
        "name": "Barolo 2019",
        "producer": "Cascina Lapin",
        "varietal": "Nebbiolo",
        "vintage": 2019,
        "unitPrice": 42.5,
    },
    {"externalId": "SKU-1002", "code": "CHA-22", "name": "Chablis 2022", "unitPrice": "19.90"},
]
CUSTOMERS = [
    {
        "externalId": "C-77",
        "name": "Bistro Lapin",
        "email": "Chef@Bistro-Lapin.example.com",
        "phone": "(212) 555-0101",
        "territory": "T-NW",
        "accountType": "ACTIVE",
        "accountPriority": "HIGH",
        "customFields": {"wine_club": True, "tier": "gold"},
    },
    {"externalId": "C-78", "name": "Cave du Port", "territory": "Southeast"},
]
ORDERS = [
    {
        "externalId": "O-9001",
        "customer": "C-77",
        "orderDate": "2026-11-30",
        "status": "delivered",
        "lines": [
            {"sku": "SKU-1001", "quantity": 6, "unitPrice": 42.5},
            {"sku": "CHA-22", "quantity": 12},
        ],
    },
    {
        "externalId": "O-9002",
        "customer": "C-77",
        "orderDate": "2026-10-02",
        "lines": [{"sku": "SKU-1002", "quantity": 1, "unitPrice": 20}],
    },
]


@pytest.fixture
def post(client, token_headers, admin):
    return poster(client, token_headers(admin))


def poster(client, headers):
    """POST rows to an import as ``headers``' user; the JSON answer."""

    def do(entity, rows, *, expect=200, query="", **kwargs):
        response = client.post(
            f"/api/sales/import/{entity}{query}", json=rows, headers=headers, **kwargs
        )
        assert response.status_code == expect, response.get_data(as_text=True)[:2000]
        return response.get_json()

    do.headers = headers
    return do


def load_book(post):
    for entity, rows in (
        ("territories", TERRITORIES),
        ("skus", SKUS),
        ("customers", CUSTOMERS),
        ("orders", ORDERS),
    ):
        report = post(entity, rows)
        assert report["created"] == len(rows), report
        assert report["rejected"] == 0


class WriteCounter:
    """Counts INSERT/UPDATE/DELETE statements reaching the database (the import log's own
    line per call apart, in ``logged``)."""

    def __init__(self):
        self.writes = []
        self.logged = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, params, context, executemany):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            logged = statement.lstrip().startswith("INSERT INTO import_run ")
            (self.logged if logged else self.writes).append(statement)


def test_a_whole_book_goes_in_and_a_replay_writes_nothing(post, client):
    load_book(post)
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-77"))
    assert customer.email == "chef@bistro-lapin.example.com"
    assert customer.phone == "+12125550101"
    assert customer.territory.name == "Northwest" and customer.territory.timezone.startswith("Am")
    assert customer.custom_fields == {"wine_club": True, "tier": "gold"}
    # totals derived from the lines; the customer's figures from its orders
    first = db.session.scalar(select(Order).where(Order.external_id == "O-9001"))
    assert first.total == Decimal("493.80")  # 6 x 42.50 + 12 x 19.90 (the SKU's price)
    assert customer.lifetime_revenue == Decimal("513.80")
    assert customer.order_count == 2 and customer.last_order_date.isoformat() == "2026-11-30"

    with WriteCounter() as counter:
        for entity, rows in (
            ("territories", TERRITORIES),
            ("skus", SKUS),
            ("customers", CUSTOMERS),
            ("orders", ORDERS),
        ):
            report = post(entity, rows)
            assert report["unchanged"] == len(rows), report
            assert {r["result"] for r in report["rows"]} == {"unchanged"}
    assert counter.writes == []
    assert len(counter.logged) == 4  # each call has its line in the import log

    # the report names each row by external id and Decant id, and the API shows it
    report = post("customers", CUSTOMERS)
    row = report["rows"][0]
    assert row == {
        "index": 0,
        "externalId": "C-77",
        "result": "unchanged",
        "id": customer.public_id,
        "errors": {},
    }
    shown = client.get(f"/api/sales/customers/{row['id']}", headers=post.headers).get_json()
    assert shown["lifetimeRevenue"] == "513.80" and shown["name"] == "Bistro Lapin"


def test_an_order_naming_an_unknown_customer_or_sku_is_rejected_whole(post):
    load_book(post)
    report = post(
        "orders",
        [
            {
                "externalId": "O-1",
                "customer": "C-404",
                "orderDate": "2026-11-01",
                "lines": [{"sku": "SKU-1001", "quantity": 1}],
            },
            {
                "externalId": "O-2",
                "customer": "C-77",
                "orderDate": "2026-11-01",
                "lines": [{"sku": "SKU-1001", "quantity": 1}, {"sku": "NOPE", "quantity": 2}],
            },
            {
                "externalId": "O-3",
                "customer": "C-78",
                "orderDate": "2026-11-02",
                "lines": [{"sku": "SKU-1001", "quantity": 2}],
            },
        ],
    )
    assert (report["created"], report["rejected"]) == (1, 2)
    huge = [{"sku": "SKU-1001", "quantity": 1_000_000, "unitPrice": "99999999.99"}] * 2
    too_big = post("orders", [{"externalId": "O-4", "customer": "C-78", "orderDate": "2026-11-03",
                               "lines": huge}])  # fmt: skip
    assert too_big["rows"][0]["errors"] == {"lines": "the order's total is over 999,999,999,999.99"}
    assert report["rows"][0]["errors"] == {"customer": "unknown customer 'C-404'"}
    assert report["rows"][1]["errors"] == {"lines[1].sku": "unknown SKU 'NOPE'"}
    assert report["rows"][0]["id"] is None
    made = db.session.scalars(select(Order.external_id)).all()
    assert sorted(made) == ["O-3", "O-9001", "O-9002"]
    assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 4


def test_row_errors_name_the_field_and_leave_the_other_rows_alone(post):
    post("territories", TERRITORIES)
    report = post(
        "customers",
        [
            {"externalId": "C-1", "name": "Good"},
            {"externalId": "C-2", "name": "Bad mail", "email": "not-an-address"},
            {"externalId": "C-3", "name": "Odd field", "colour": "red"},
            {"externalId": "C-4", "name": "Lost", "territory": "T-MOON"},
            {"externalId": "C-1", "name": "Twice"},
            {"name": "No id"},
            "not an object",
            {"externalId": "C-5", "accountType": "ACTIVE"},
        ],
    )
    results = [r["result"] for r in report["rows"]]
    assert results == ["created"] + ["rejected"] * 7
    errors = [r["errors"] for r in report["rows"]]
    assert "email" in errors[1]
    assert errors[2] == {"colour": "unknown field"}
    assert errors[3] == {"territory": "unknown territory 'T-MOON'"}
    assert "row 0" in errors[4]["externalId"]
    assert "externalId" in errors[5]
    assert errors[6] == {"row": "expected an object"}
    assert errors[7] == {"name": "required"}
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_updates_cancelling_and_archiving_are_upserts(post, client):
    load_book(post)
    report = post("orders", [{"externalId": "O-9001", "status": "Cancelled"}])
    assert report["updated"] == 1
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-77"))
    db.session.refresh(customer)
    assert customer.lifetime_revenue == Decimal("20.00") and customer.order_count == 1
    assert customer.last_order_date.isoformat() == "2026-10-02"
    # the cancelled order is still there, with its lines
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
    assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 3

    # lines replaced when they differ; a field left out keeps its value
    report = post(
        "orders",
        [{"externalId": "O-9002", "lines": [{"sku": "SKU-1001", "quantity": 2}]}],
    )
    assert report["updated"] == 1
    db.session.refresh(customer)
    assert customer.lifetime_revenue == Decimal("85.00")
    order = db.session.scalar(select(Order).where(Order.external_id == "O-9002"))
    assert order.order_date.isoformat() == "2026-10-02" and order.status == "delivered"
    assert [(line.sku.code, line.quantity) for line in order.lines] == [("BAR-19", 2)]

    report = post("customers", [{"externalId": "C-78", "archived": True}])
    assert report["updated"] == 1
    db.session.expire_all()
    archived = db.session.scalar(select(Customer).where(Customer.external_id == "C-78"))
    assert archived.archived is True and archived.name == "Cave du Port"


def test_decant_ids_still_work_and_link_an_external_id(post, make_customer):
    existing = make_customer("North", name="Old Friend")
    report = post(
        "customers", [{"id": existing.public_id, "externalId": "C-500", "accountPriority": "LOW"}]
    )
    assert report["rows"][0]["result"] == "updated"
    assert report["rows"][0]["id"] == existing.public_id
    db.session.refresh(existing)
    assert existing.external_id == "C-500" and existing.account_priority == "LOW"
    # a SKU made before the bridge is adopted by its code
    db.session.add(Sku(code="OLD-1", name="Old wine", price=Decimal("9.00")))
    db.session.commit()
    report = post("skus", [{"externalId": "SKU-OLD", "code": "OLD-1", "name": "Old wine"}])
    assert report["updated"] == 1
    assert db.session.scalar(select(Sku.external_id).where(Sku.code == "OLD-1")) == "SKU-OLD"
    # a natural key another record owns is refused, not overwritten
    report = post(
        "skus", [{"externalId": "SKU-X", "code": "OLD-1", "name": "Clash", "unitPrice": 1}]
    )
    assert report["rows"][0]["errors"] == {"code": "'OLD-1' is already used by another record"}
    report = post("customers", [{"id": "cus_nothere", "name": "Ghost"}])
    assert report["rows"][0]["errors"] == {"id": "unknown customer"}


def test_ndjson_dry_run_and_body_errors(post, client):
    post("territories", TERRITORIES)
    lines = "\n".join(json.dumps(row) for row in CUSTOMERS) + "\n"
    dry = post(
        "customers", None, query="?dryRun=true", data=lines, content_type="application/x-ndjson"
    )
    assert dry["dryRun"] is True and dry["created"] == 2 and dry["rows"][0]["id"] is None
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0
    real = post("customers", None, data=lines, content_type="application/x-ndjson")
    assert real["created"] == 2 and real["rows"][1]["id"].startswith("cus_")

    bad = post(
        "customers",
        None,
        expect=400,
        data='{"externalId": "C-1"}\n{oops\n',
        content_type="application/x-ndjson",
    )
    assert bad["error"]["code"] == "malformed_json" and "line 2" in bad["error"]["fields"]
    assert post("customers", {"externalId": "C-1"}, expect=422)["error"]["fields"] == {
        "body": "not an array"
    }
    assert post("planets", [], expect=404)["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body, status",
    [
        (
            '\ufeff [ {"externalId": "T-A", "name": "A"} ,\n'
            '\t{"externalId": "T-B", "name": "B"} ] \n',
            200,
        ),
        ('[{"externalId": "T-A", "name": "A"},]', 400),
        ('[{"externalId": "T-A", "name": "A"} {"externalId": "T-B", "name": "B"}]', 400),
        ('[{"externalId": "T-A", "name": "A"}] []', 400),
        ('[{"externalId": "T-A", "name": "A"}', 400),
        ("[]", 200),
        ("  ", 400),
    ],
)
def test_a_json_array_body_is_read_element_by_element_as_json_would(post, body, status):
    """The array reader that digests each element's text takes what ``json.loads`` takes
    (spaces, a BOM) and refuses the rest before anything is written."""
    before = db.session.scalar(select(func.count()).select_from(Territory))
    report = post(
        "territories", None, expect=status, data=body.encode(), content_type="application/json"
    )
    created = body.count("externalId") if status == 200 else 0
    if status == 200:
        assert report["created"] == created
    else:
        assert report["error"]["code"] == "malformed_json"
    assert db.session.scalar(select(func.count()).select_from(Territory)) == before + created


@pytest.mark.parametrize("mimetype", ["application/json", "application/x-ndjson"])
def test_a_body_nested_too_deeply_is_400_and_writes_nothing(post, mimetype):
    """The request guard leaves an import body to the import's own reader (it parses
    10,000 rows once, not twice): nesting past Python's recursion limit is still a 400
    in the envelope, never a 500."""
    before = db.session.scalar(select(func.count()).select_from(Territory))
    deep = "[" * 5000 + "]" * 5000
    body = f'[{{"externalId": "T-A", "name": "A"}}, {deep}]'
    if mimetype.endswith("ndjson"):
        body = f'{{"externalId": "T-A", "name": "A"}}\n{deep}\n'
    report = post("territories", None, expect=400, data=body.encode(), content_type=mimetype)
    assert report["error"]["code"] == "malformed_json" and report["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Territory)) == before


def test_more_rows_than_allowed_is_413(post, app):
    app.config["IMPORT_MAX_ROWS"] = 3
    rows = [{"externalId": f"T-{n}", "name": f"Zone {n}"} for n in range(4)]
    body = post("territories", rows, expect=413)
    assert body["error"]["code"] == "payload_too_large" and "3 rows" in body["error"]["message"]
    ndjson = "\n".join(json.dumps(r) for r in rows)
    post("territories", None, expect=413, data=ndjson, content_type="application/x-ndjson")
    imported = select(func.count()).select_from(Territory).where(Territory.external_id.is_not(None))
    assert db.session.scalar(imported) == 0
    assert post("territories", rows[:3])["created"] == 3


def test_who_may_import(client, token_headers, rep, manager, admin):
    rows = [{"externalId": "T-1", "name": "One"}]
    response = client.post("/api/sales/import/territories", json=rows, headers=token_headers(rep))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    users = [{"externalId": "U-1", "name": "Ann", "email": "ann@example.com", "role": "manager"}]
    response = client.post("/api/sales/import/users", json=users, headers=token_headers(manager))
    assert response.status_code == 403
    response = client.post(
        "/api/sales/import/territories", json=rows, headers=token_headers(manager)
    )
    assert response.status_code == 200 and response.get_json()["created"] == 1
    assert client.post("/api/sales/import/territories", json=rows).status_code == 401


def test_the_import_is_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").get_json()
    operation = doc["paths"]["/api/sales/import/{entity}"]["post"]
    assert "413" in operation["responses"] and "NDJSON" in operation["description"]
    schemas = json.dumps(doc["components"]["schemas"])
    assert "OrderLineRow" in schemas and "ImportReport" in schemas


def test_archived_customers_leave_smart_lists_and_campaign_audiences(post, manager):
    from app.messaging import audiences
    from blueprints.lists import criteria, services

    load_book(post)
    node = criteria.parse({"type": "all_in_territory", "territory": "Northwest"})
    smart = services.create_list(manager, "NW", None, node)
    assert services.refresh(smart.id) == 1
    manual = services.create_list(manager, "Hand picked", None, None)
    ids = [c.public_id for c in db.session.scalars(select(Customer))]
    services.add_members(manager, manual, ids, None)

    def audience(lst):
        return set(db.session.scalars(audiences.resolve("list", lst.public_id, manager)))

    assert len(audience(manual)) == 2
    post("customers", [{"externalId": "C-77", "archived": True}])
    assert services.refresh(smart.id) == 0
    assert services.preview(manager, node)["count"] == 0
    archived = db.session.scalar(select(Customer.id).where(Customer.external_id == "C-77"))
    assert archived not in audience(manual) and len(audience(manual)) == 1
    post("customers", [{"externalId": "C-77", "archived": False}])
    assert services.refresh(smart.id) == 1


def test_imported_orders_show_on_the_customer_page(post, login, manager, client):
    load_book(post)
    post("orders", [{"externalId": "O-9002", "status": "cancelled"}])
    post("customers", [{"externalId": "C-77", "archived": True}])
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-77"))
    login(manager)
    html = client.get(f"/sales/customers/{customer.public_id}").get_data(as_text=True)
    orders = html.split('data-testid="orders"', 1)[1].split("</ul>", 1)[0]
    assert "O-9001" in orders and "493.80" in orders
    assert "O-9002" in orders and "cancelled" in orders
    assert "(1 in all)" in html and 'data-testid="archived"' in html


def test_every_app_gets_the_whole_openapi_document(app, client, app_config):
    """spectree moved nested schemas out of its registry on the first generation, so a
    second app in the same process documented $refs to schemas it no longer had."""
    from app import create_app

    first = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    second_app = create_app(app_config)
    second = second_app.test_client().get("/api/openapi.json").get_json()["components"]["schemas"]
    assert any(name.endswith(".OrderLineRow") for name in second)
    assert set(second) == set(first)


def test_a_concurrent_import_of_the_same_ids_is_retried_not_a_500(post, monkeypatch):
    """Another writer creates the same external id between this batch's reads and its
    write: the unique constraint refuses the write and the batch is planned again."""
    from dataclasses import replace

    from sqlalchemy import insert

    from app.crm import imports
    from app.ids import new_public_id

    real = imports.ENTITIES["territories"]
    raced = []

    def plan_then_race(rows, user):
        real.plan(rows, user)
        if not raced:
            raced.append(True)
            with db.engine.begin() as other:  # a second connection, committed at once
                other.execute(
                    insert(Territory.__table__).values(
                        public_id=new_public_id("ter"), name="Northwest", external_id="T-NW",
                        timezone="UTC",
                    )
                )  # fmt: skip

    monkeypatch.setitem(imports.ENTITIES, "territories", replace(real, plan=plan_then_race))
    report = post("territories", TERRITORIES)
    assert [r["result"] for r in report["rows"]] == ["updated", "created"]
    assert db.session.scalar(select(Territory.timezone).where(Territory.external_id == "T-NW")) == (
        "America/Los_Angeles"
    )


def test_lookups_and_writes_go_in_chunks_on_every_database(post, monkeypatch):
    """More keys than one IN list (SQLite) or array parameter (PostgreSQL) takes: every
    lookup, line replacement and totals update still sees them all."""
    from app.crm.imports import engine

    monkeypatch.setattr(engine, "CHUNK", 1)
    monkeypatch.setattr(engine, "BIG_CHUNK", 1)
    load_book(post)
    assert post("customers", CUSTOMERS)["unchanged"] == 2
    report = post(
        "orders",
        [
            {"externalId": "O-9001", "lines": [{"sku": "SKU-1002", "quantity": 2}]},
            {"externalId": "O-9002", "lines": [{"sku": "BAR-19", "quantity": 1}]},
        ],
    )
    assert report["updated"] == 2, report
    lines = db.session.execute(
        select(Order.external_id, Sku.code, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .order_by(Order.external_id)
    ).all()
    assert [tuple(line) for line in lines] == [("O-9001", "CHA-22", 2), ("O-9002", "BAR-19", 1)]
    customer = db.session.scalar(select(Customer).where(Customer.external_id == "C-77"))
    assert customer.lifetime_revenue == Decimal("82.30")  # 2 x 19.90 + 42.50


def test_a_replay_is_settled_by_digest_until_decant_edits_the_record(post, client, monkeypatch):
    """Unchanged rows are recognised by the digest of their text, without being parsed;
    an edit in Decant (API, pages) clears the digest, so the next replay of the same row
    restores the source's value instead of calling it unchanged."""
    from app.crm.imports import engine

    load_book(post)
    parsed = []
    real_parse = engine.parse

    def counting_parse(model, raw, digests, settled=()):
        rows = real_parse(model, raw, digests, settled)
        parsed.extend(rows)
        return rows

    monkeypatch.setattr(engine, "parse", counting_parse)
    for entity, rows in (("skus", SKUS), ("customers", CUSTOMERS), ("orders", ORDERS)):
        assert post(entity, rows)["unchanged"] == len(rows)
    assert parsed == []  # every row settled by its digest

    customer_id = post("customers", CUSTOMERS)["rows"][0]["id"]
    sku_id = post("skus", SKUS)["rows"][0]["id"]
    edited = client.patch(
        f"/api/sales/customers/{customer_id}",
        json={"name": "Renamed in Decant"},
        headers=post.headers,
    )
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert (
        client.patch(
            f"/api/sales/skus/{sku_id}", json={"name": "Other"}, headers=post.headers
        ).status_code
        == 200
    )
    report = post("customers", CUSTOMERS)
    assert [r["result"] for r in report["rows"]] == ["updated", "unchanged"]
    assert post("skus", SKUS)["updated"] == 1
    db.session.expire_all()
    assert (
        db.session.scalar(select(Customer.name).where(Customer.external_id == "C-77"))
        == "Bistro Lapin"
    )
    # the same rows written another way (key order, spacing) are unchanged the long way,
    # and their digest is stored for next time
    parsed.clear()
    reordered = [dict(reversed(list(row.items()))) for row in CUSTOMERS]
    assert post("customers", reordered)["unchanged"] == 2 and len(parsed) == 2
    parsed.clear()
    assert post("customers", reordered)["unchanged"] == 2 and parsed == []
    # a batch naming one record twice still rejects the repeat
    report = post("customers", [CUSTOMERS[0], CUSTOMERS[0]])
    assert [r["result"] for r in report["rows"]] == ["unchanged", "rejected"]


@pytest.mark.parametrize("sunset_min_emails", [10, 0])
def test_new_customers_are_stored_scored_as_a_rescore_scores_them(post, app, sunset_min_emails):
    """A customer an import creates has no touch, message or order: it is written with the
    score and state a rescore gives it (with the settings of the day: SUNSET_MIN_EMAILS=0
    makes an untouched customer sunset), and no rescore rewrites the new rows after it."""
    from app.engagement.score import rescore_customers

    app.config["SUNSET_MIN_EMAILS"] = sunset_min_emails
    post("territories", TERRITORIES)
    with WriteCounter() as counter:
        assert post("customers", CUSTOMERS)["created"] == 2
    assert [s for s in counter.writes if s.lstrip().upper().startswith("UPDATE")] == []

    columns = ("engagement_score", "engagement_state", "last_engaged_at", "sunset_at")
    query = select(*(getattr(Customer, name) for name in columns), Customer.engagement_scored_at)
    imported = [tuple(row) for row in db.session.execute(query.order_by(Customer.id))]
    assert all(row[-1] is not None for row in imported)  # scored when created
    rescore_customers(db.session.scalars(select(Customer.id)).all())
    db.session.expire_all()
    rescored = [tuple(row) for row in db.session.execute(query.order_by(Customer.id))]
    expected_state = "sunset" if sunset_min_emails == 0 else "at_risk"
    assert [row[1] for row in rescored] == [expected_state] * 2
    assert [row[:3] for row in imported] == [row[:3] for row in rescored]
    assert [row[3] is None for row in imported] == [row[3] is None for row in rescored]
