"""The "date field" trigger on the customer's built-in date columns (customer since, first
and last order) as well as custom fields: yearly (an anniversary) or once, N days before
or after, on the customer's clock; an unknown field is refused naming ``trigger.field``,
and the page lists the built-in columns. Also: the flows API pages its lists."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import update

from app.crm.models import Customer, Order
from app.extensions import db
from app.flows import triggers
from tests.app.test_flows import api, make_flow, runs  # noqa: F401 - the fixture
from tests.conftest import csrf_from

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # noon in London, 23:00 in Auckland...


def _created(customer: Customer, when: datetime) -> None:
    db.session.execute(update(Customer).where(Customer.id == customer.id).values(created_at=when))
    db.session.commit()


def _order(customer: Customer, day: date) -> None:
    db.session.add(Order(customer_id=customer.id, order_date=day))
    db.session.commit()


def _entered() -> list[int]:
    return sorted(r.customer_id for r in runs())


def test_a_customer_anniversary_on_the_created_date_enters_yearly(api, make_customer):  # noqa: F811
    """Created 22 June 2023: a week before (offset -7) its third anniversary is 15 June."""
    due, other, new = make_customer(), make_customer(), make_customer()
    _created(due, datetime(2023, 6, 22, 9, 0, tzinfo=UTC))
    _created(other, datetime(2023, 6, 23, 9, 0, tzinfo=UTC))
    _created(new, datetime(2026, 6, 22, 9, 0, tzinfo=UTC))  # the future: yearly still matches
    make_flow(
        api,
        [{"type": "tag", "tag": "anniversary"}],
        {"type": "date_field", "field": "created_at", "offsetDays": -7},
    )
    assert triggers.date_field_daily(NOW) == 2
    assert _entered() == sorted([due.id, new.id])
    assert triggers.date_field_daily(NOW) == 0  # the same day again: nobody twice


def test_first_and_last_order_dates_once_and_yearly(api, make_customer):  # noqa: F811
    """30 days after the last order (once); a year after the first order (yearly)."""
    lapsed, recent, loyal = make_customer(), make_customer(), make_customer()
    _order(lapsed, date(2026, 5, 16))
    db.session.execute(
        update(Customer).where(Customer.id == lapsed.id).values(last_order_date=date(2026, 5, 16))
    )
    db.session.execute(
        update(Customer).where(Customer.id == recent.id).values(last_order_date=date(2025, 5, 16))
    )
    db.session.commit()
    _order(loyal, date(2024, 6, 15))
    _order(loyal, date(2026, 1, 3))  # a later order: the first one counts
    last = make_flow(
        api,
        [{"type": "tag", "tag": "reorder"}],
        {"type": "date_field", "field": "last_order_date", "offsetDays": 30, "yearly": False},
    )
    assert last["trigger"] == {
        "type": "date_field",
        "field": "last_order_date",
        "offsetDays": 30,
        "yearly": False,
    }
    assert triggers.date_field_daily(NOW) == 1  # not the one a year earlier: once
    assert _entered() == [lapsed.id]
    make_flow(
        api,
        [{"type": "tag", "tag": "first-order-anniversary"}],
        {"type": "date_field", "field": "first_order_date"},
    )
    assert triggers.date_field_daily(NOW) == 1
    assert _entered() == sorted([lapsed.id, loyal.id])


def test_an_unknown_date_field_is_422_naming_it(api, make_customer):  # noqa: F811
    make_customer(custom_fields={"wedding": "2010-09-01"})
    for config in (
        {"field": "birthday"},  # no customer has it
        {"field": "created at"},  # not a key
        {"field": "wedding", "yearly": "sometimes"},
    ):
        refused = api("POST", "", 422, name="x", trigger={"type": "date_field", **config}, steps=[])
        fields = refused["error"]["fields"]
        assert ("trigger.yearly" if "yearly" in config else "trigger.field") in fields, fields
    api("POST", "", 201, name="ok", trigger={"type": "date_field", "field": "wedding"}, steps=[])


def test_the_page_lists_the_built_in_dates(client, login, manager):
    login(manager)
    html = client.get("/sales/marketing/flows").get_data(as_text=True)
    assert 'for="flow-date-column"' in html and 'for="flow-date-match"' in html
    for name in ("created_at", "first_order_date", "last_order_date"):
        assert f'<option value="{name}"' in html
    form = {
        "csrf_token": csrf_from(html),
        "name": "Customer anniversary",
        "trigger": "date_field",
        "dateField": "",
        "field": "nosuchfield",
        "offsetDays": "0",
        "dateMatch": "yearly",
    }
    refused = client.post("/sales/marketing/flows", data=form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "no customer has a custom field" in page and 'value="nosuchfield"' in page
    form.update(dateField="last_order_date", dateMatch="once", offsetDays="30")
    created = client.post("/sales/marketing/flows", data=form)
    assert created.status_code == 302
    edit = client.get(created.headers["Location"]).get_data(as_text=True)
    assert '<option value="last_order_date" selected' in edit
    assert '<option value="once" selected' in edit


def test_the_flows_and_runs_lists_are_paged(api, make_customer):  # noqa: F811
    flows = [make_flow(api, [{"type": "tag", "tag": "t"}]) for _ in range(3)]
    page = api("GET", "?perPage=2&page=2")
    assert (page["total"], page["page"], page["perPage"]) == (3, 2, 2)
    assert [f["id"] for f in page["items"]] == [flows[0]["id"]]  # newest first
    customers = [make_customer() for _ in range(3)]
    for customer in customers:
        api("POST", f"/{flows[0]['id']}/runs", 201, customerId=customer.public_id)
    listed = api("GET", f"/{flows[0]['id']}/runs?perPage=2")
    assert listed["total"] == 3 and len(listed["items"]) == 2
    assert listed["items"][0]["customerId"] == customers[-1].public_id
    assert api("GET", f"/{flows[0]['id']}/runs?perPage=2&page=2")["items"][0]["customerName"]
