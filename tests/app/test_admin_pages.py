"""The admin pages: territories, the SKU catalogue and the users page additions.

Through the test client with real CSRF tokens: create, edit, refusals beside their
fields with what was typed kept, and who may read or change what."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.crm.models import Sku, Territory
from app.extensions import db
from tests.conftest import PASSWORD, csrf_from


def _post(client, url: str, data: dict) -> object:
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _field_error(html: str, field: str) -> str | None:
    match = re.search(rf'data-testid="error-{field}">([^<]+)<', html)
    return match.group(1) if match else None


@pytest.fixture
def sku(app):
    row = Sku(code="BAR-19", name="Barolo 2019", price=42.5, producer="Vietti", vintage=2019)
    db.session.add(row)
    db.session.commit()
    return row


# --- territories -------------------------------------------------------------------------


def test_an_admin_creates_and_renames_a_territory(client, login, admin):
    login(admin)
    created = _post(
        client,
        "/admin/territories/new",
        {"name": "Northwest", "timezone": "America/Los_Angeles", "external_id": "T-NW"},
    )
    assert created.status_code == 303
    territory = db.session.scalar(select(Territory).where(Territory.name == "Northwest"))
    assert (territory.timezone, territory.external_id) == ("America/Los_Angeles", "T-NW")
    listing = client.get("/admin/territories").get_data(as_text=True)
    assert "Northwest" in listing and "T-NW" in listing

    edit = f"/admin/territories/{territory.public_id}/edit"
    assert 'value="America/Los_Angeles"' in client.get(edit).get_data(as_text=True)
    saved = _post(client, edit, {"name": "Pacific NW", "timezone": "America/Vancouver"})
    assert saved.status_code == 303
    db.session.refresh(territory)
    assert (territory.name, territory.timezone, territory.external_id) == (
        "Pacific NW",
        "America/Vancouver",
        None,
    )


def test_a_refused_territory_keeps_what_was_typed(client, login, admin, territories):
    login(admin)
    bad_zone = _post(
        client, "/admin/territories/new", {"name": "Westish", "timezone": "Mars/Olympus"}
    )
    html = bad_zone.get_data(as_text=True)
    assert bad_zone.status_code == 422
    assert "Mars/Olympus" in _field_error(html, "timezone")
    assert 'value="Westish"' in html
    taken = _post(client, "/admin/territories/new", {"name": "north", "timezone": "UTC"})
    assert taken.status_code == 422
    assert "name" in _field_error(taken.get_data(as_text=True), "name")
    assert db.session.scalar(select(Territory).where(Territory.name == "Westish")) is None


def test_a_territory_form_needs_its_csrf_token(client, login, admin):
    login(admin)
    refused = client.post("/admin/territories/new", data={"name": "Nowhere", "timezone": "UTC"})
    assert refused.status_code == 400
    assert db.session.scalar(select(Territory).where(Territory.name == "Nowhere")) is None


def test_a_manager_reads_territories_but_cannot_change_them(client, login, manager, territories):
    login(manager)
    listing = client.get("/admin/territories")
    assert listing.status_code == 200
    assert "North" in listing.get_data(as_text=True)
    assert "New territory" not in listing.get_data(as_text=True)
    assert client.get("/admin/territories/new").status_code == 403
    north = territories["North"].public_id
    assert client.get(f"/admin/territories/{north}/edit").status_code == 403
    token = csrf_from(client.get("/admin/territories").get_data(as_text=True))
    posted = client.post(
        f"/admin/territories/{north}/edit",
        data={"name": "Renamed", "timezone": "UTC", "csrf_token": token},
    )
    assert posted.status_code == 403
    db.session.refresh(territories["North"])
    assert territories["North"].name == "North"


def test_a_rep_reaches_no_admin_page(client, login, rep, sku):
    login(rep)
    for url in ("/admin/territories", "/admin/skus", "/admin/skus/new", "/users/new"):
        assert client.get(url).status_code == 403, url
    nav = client.get("/sales/customers").get_data(as_text=True)
    assert "/admin/skus" not in nav and "/admin/territories" not in nav


# --- SKUs --------------------------------------------------------------------------------


def test_an_admin_adds_a_sku_and_edits_it(client, login, admin):
    login(admin)
    created = _post(
        client,
        "/admin/skus/new",
        {
            "code": "CHB-22",
            "name": "Chablis 2022",
            "producer": "Fèvre",
            "varietal": "Chardonnay",
            "vintage": "2022",
            "region": "Burgundy",
            "price": "24.90",
            "active": "y",
            "external_id": "SKU-7",
        },
    )
    assert created.status_code == 303
    sku = db.session.scalar(select(Sku).where(Sku.code == "CHB-22"))
    assert (sku.producer, sku.vintage, str(sku.price), sku.active, sku.external_id) == (
        "Fèvre",
        2022,
        "24.90",
        True,
        "SKU-7",
    )
    edit = f"/admin/skus/{sku.public_id}/edit"
    saved = _post(
        client,
        edit,
        {"code": "CHB-22", "name": "Chablis 1er Cru 2022", "price": "31", "active": "y"},
    )
    assert saved.status_code == 303
    db.session.refresh(sku)
    assert (sku.name, str(sku.price), sku.producer) == ("Chablis 1er Cru 2022", "31.00", None)
    free = _post(client, edit, {"code": "CHB-22", "name": "Sample", "price": "0", "active": "y"})
    assert free.status_code == 303  # a free sample bottle is a price too
    db.session.refresh(sku)
    assert str(sku.price) == "0.00"


def test_taking_a_sku_out_of_sale_asks_first(client, login, admin, sku):
    login(admin)
    edit = f"/admin/skus/{sku.public_id}/edit"
    fields = {"code": "BAR-19", "name": "Barolo 2019", "price": "42.50"}  # active unticked
    asked = _post(client, edit, fields)
    assert asked.status_code == 200
    assert 'data-testid="confirm-deactivate"' in asked.get_data(as_text=True)
    db.session.refresh(sku)
    assert sku.active is True
    token = csrf_from(asked.get_data(as_text=True))
    done = client.post(edit, data={**fields, "confirmed": "yes", "csrf_token": token})
    assert done.status_code == 303
    db.session.refresh(sku)
    assert sku.active is False


def test_a_refused_sku_keeps_what_was_typed(client, login, admin, sku):
    login(admin)
    taken = _post(
        client, "/admin/skus/new", {"code": "BAR-19", "name": "Another Barolo", "price": "9"}
    )
    html = taken.get_data(as_text=True)
    assert taken.status_code == 422
    assert "code" in _field_error(html, "code")
    assert 'value="Another Barolo"' in html
    bad = _post(
        client, "/admin/skus/new", {"code": "X-1", "name": "X", "price": "-3", "vintage": "19"}
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert _field_error(html, "price") and _field_error(html, "vintage")
    assert db.session.scalar(select(Sku).where(Sku.code == "X-1")) is None


def test_the_catalogue_is_searched_and_paged_in_the_database(client, login, manager):
    db.session.add_all(
        Sku(code=f"R-{n:03d}", name=f"Rioja {n:03d}", price=10, region="Rioja") for n in range(60)
    )
    db.session.add(Sku(code="P-1", name="Pinot", price=20, producer="Drouhin"))
    db.session.commit()
    login(manager)
    first = client.get("/admin/skus?q=rioja").get_data(as_text=True)
    assert "Rioja 000" in first and "Rioja 049" in first and "Rioja 050" not in first
    assert "Page 1 of 2" in first and "Pinot" not in first
    assert "New SKU" not in first  # managers read only
    second = client.get("/admin/skus?q=rioja&page=2").get_data(as_text=True)
    assert "Rioja 059" in second and "Rioja 000" not in second
    assert "Pinot" in client.get("/admin/skus?q=drouhin").get_data(as_text=True)
    assert client.get("/admin/skus/new").status_code == 403


# --- users -------------------------------------------------------------------------------


def test_an_admin_creates_a_user_and_sees_the_invite_link_once(client, login, admin, territories):
    login(admin)
    answer = _post(
        client,
        "/users/new",
        {"name": "Rita Rep", "email": "Rita@Example.com", "role": "rep", "territory": "South"},
    )
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    link = re.search(
        r'data-testid="invite-link" onfocus="[^"]*"|value="(http[^"]+/invite/[^"]+)"',
        answer.get_data(as_text=True),
    )
    assert link and link.group(1)
    user = db.session.scalar(select(User).where(User.email == "rita@example.com"))
    assert (user.role, user.territory.name, user.password_hash) == ("rep", "South", None)
    assert link.group(1) not in client.get("/users").get_data(as_text=True)

    client.post(
        "/logout", data={"csrf_token": csrf_from(client.get("/users").get_data(as_text=True))}
    )
    path = link.group(1).split("localhost", 1)[-1]
    path = path[path.index("/invite/") :]
    form = client.get(path)
    assert form.status_code == 200
    set_password = client.post(
        path,
        data={
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_from(form.get_data(as_text=True)),
        },
    )
    assert set_password.status_code == 302
    assert client.get(path).status_code == 410  # used once


def test_a_refused_new_user_keeps_what_was_typed(client, login, admin, territories):
    login(admin)
    no_territory = _post(
        client,
        "/users/new",
        {"name": "Ned", "email": "ned@example.com", "role": "rep", "territory": ""},
    )
    html = no_territory.get_data(as_text=True)
    assert no_territory.status_code == 422
    assert "territory" in _field_error(html, "territory")
    assert 'value="ned@example.com"' in html and 'value="Ned"' in html
    taken = _post(
        client,
        "/users/new",
        {"name": "Again", "email": admin.email.upper(), "role": "manager", "territory": ""},
    )
    assert taken.status_code == 422
    assert "exists" in _field_error(taken.get_data(as_text=True), "email")
    assert db.session.scalar(select(User).where(User.email == "ned@example.com")) is None


def test_an_admin_edits_and_reassigns_a_user(client, login, admin, rep, territories):
    login(admin)
    edit = f"/users/{rep.public_id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert 'value="North" selected' in page or '<option selected value="North">' in page
    saved = _post(client, edit, {"name": "Rep Moved", "role": "rep", "territory": "East"})
    assert saved.status_code == 303
    db.session.refresh(rep)
    assert (rep.name, rep.territory.name) == ("Rep Moved", "East")

    refused = _post(client, edit, {"name": "Rep Moved", "role": "rep", "territory": ""})
    assert refused.status_code == 422
    assert "territory" in _field_error(refused.get_data(as_text=True), "territory")
    own = _post(
        client, f"/users/{admin.public_id}/edit", {"name": "Me", "role": "manager", "territory": ""}
    )
    assert own.status_code == 422
    assert "own role" in _field_error(own.get_data(as_text=True), "role")
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_a_new_invite_is_confirmed_first_and_needs_csrf(client, login, admin, rep):
    login(admin)
    url = f"/users/{rep.public_id}/invite"
    confirm = client.get(url)
    assert confirm.status_code == 200 and "/invite/" not in confirm.get_data(as_text=True)
    assert client.post(url).status_code == 400
    made = client.post(url, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert made.status_code == 200
    assert re.search(r'value="http[^"]+/invite/[^"]+"', made.get_data(as_text=True))


def test_the_user_forms_are_for_admins(client, login, manager, rep):
    login(manager)
    for url in ("/users/new", f"/users/{rep.public_id}/edit", f"/users/{rep.public_id}/invite"):
        assert client.get(url).status_code == 403, url
