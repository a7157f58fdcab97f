"""Phone numbers in a bulk import: the answers of a single create, each distinct written
number parsed once (issue 23 item 10: validating numbers was ~40% of a first load)."""

from __future__ import annotations

import phonenumbers
import pytest
from sqlalchemy import select

from app.crm import services
from app.crm.imports import contacts
from app.crm.models import Customer
from app.errors import DomainError
from app.extensions import db
from tests.app.test_crm_import import poster

#: accepted in several written forms, refused for each of the library's reasons
NUMBERS = [
    "+12125550101",
    "(212) 555-0101",
    "212.555.0101",
    "+1 212 555 0101 ext. 7",
    "+447911123456",
    "+44 07911 123456",  # a national prefix after the country code
    "0044 7911 123456",
    "+33 6 12 34 56 78",
    "+390612345678",  # Italy keeps its leading zero
    "+1 800 FLOWERS",
    "12125550101",
    "+1212555010",  # one digit short
    "+999 123 4567",  # no such country code
    "+1 555 0101",
    "not a number",
    "1",
    "+",
    "٢١٢٥٥٥٠١٠١",  # Arabic-Indic digits
    "+12125550101" + "1" * 20,
]


@pytest.fixture(autouse=True)
def forget_numbers():
    contacts._phone.cache_clear()
    yield
    contacts._phone.cache_clear()


def answer(normalise, value):
    try:
        return "ok", normalise(value)
    except DomainError as exc:
        return "refused", exc.fields


def test_an_import_accepts_and_refuses_exactly_what_a_single_create_does(app):
    with app.test_request_context():
        single = [answer(services.normalise_phone, value) for value in NUMBERS]
        assert {kind for kind, _ in single} == {"ok", "refused"}
        first = [answer(contacts.normalise_phone, value) for value in NUMBERS]
        again = [answer(contacts.normalise_phone, value) for value in NUMBERS]
        assert first == single
        assert again == single  # answered from the cache, refusals and reasons included
        assert contacts._phone.cache_info().hits == len(NUMBERS)


def test_a_number_is_read_in_the_configured_region(app):
    with app.test_request_context():
        app.config["DEFAULT_PHONE_REGION"] = "GB"
        try:
            assert contacts.normalise_phone("07911 123456") == "+447911123456"
        finally:
            app.config["DEFAULT_PHONE_REGION"] = "US"
        assert answer(contacts.normalise_phone, "07911 123456")[0] == "refused"


def test_a_batch_parses_each_distinct_number_once(client, token_headers, admin, monkeypatch):
    parsed: list[str] = []
    real_parse = phonenumbers.parse

    def counting_parse(number, region=None, *args, **kwargs):
        parsed.append(number)
        return real_parse(number, region, *args, **kwargs)

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    post = poster(client, token_headers(admin))
    shared, broken = "(212) 555-0101", "+1 555 0101"
    rows = [
        {"externalId": f"C-{n}", "name": f"Shop {n}", "phone": (shared, broken, None)[n % 3]}
        for n in range(30)
    ]
    report = post("customers", rows)
    assert sorted(parsed) == sorted([shared, broken])
    assert (report["created"], report["rejected"]) == (20, 10)
    refused = [row for row in report["rows"] if row["result"] == "rejected"]
    assert {row["externalId"] for row in refused} == {f"C-{n}" for n in range(1, 30, 3)}
    assert all(row["errors"] == {"phone": "not a valid phone number"} for row in refused)
    phones = db.session.scalars(select(Customer.phone).order_by(Customer.id)).all()
    assert phones == ["+12125550101", None] * 10
