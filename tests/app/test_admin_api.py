"""POST/PATCH of territories, SKUs and users: the services the admin pages use, over the
API, with refusals naming their field and writing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.auth.services import UserError, update_user
from app.crm.models import Sku, Territory
from app.extensions import db


@pytest.fixture
def call(client, token_headers, admin):
    headers = token_headers(admin)

    def do(method: str, url: str, body=None, expect: int = 200, who=None):
        response = client.open(
            url, method=method, json=body, headers=token_headers(who) if who else headers
        )
        assert response.status_code == expect, response.get_data(as_text=True)[:800]
        return response.get_json()

    return do


def test_territories_are_created_and_changed(call, territories):
    made = call(
        "POST",
        "/api/sales/territories",
        {"name": "Northwest", "timezone": "America/Los_Angeles", "externalId": "T-NW"},
        201,
    )
    assert (made["name"], made["timezone"], made["externalId"]) == (
        "Northwest",
        "America/Los_Angeles",
        "T-NW",
    )
    renamed = call("PATCH", "/api/sales/territories/T-NW", {"name": "Pacific"})
    assert (renamed["name"], renamed["timezone"]) == ("Pacific", "America/Los_Angeles")
    assert (
        call("PATCH", f"/api/sales/territories/{made['id']}", {"timezone": "UTC"})["timezone"]
        == "UTC"
    )

    taken = call("POST", "/api/sales/territories", {"name": "NORTH"}, 409)
    assert taken["error"]["fields"] == {"name": "another territory has this name"}
    zone = call("PATCH", "/api/sales/territories/T-NW", {"timezone": "Mars/Base"}, 422)
    assert "timezone" in zone["error"]["fields"]
    dup = call("PATCH", "/api/sales/territories/T-NW", {"externalId": "x", "bogus": 1}, 422)
    assert "bogus" in dup["error"]["fields"]
    call("PATCH", "/api/sales/territories/ter_nope", {"name": "X"}, 404)
    assert db.session.scalar(select(Territory).where(Territory.external_id == "x")) is None


def test_skus_are_created_and_changed(call):
    made = call(
        "POST",
        "/api/sales/skus",
        {
            "code": "BAR-19",
            "name": "Barolo 2019",
            "unitPrice": 42.5,
            "vintage": 2019,
            "externalId": "SKU-1001",
            "producer": "Vietti",
        },
        201,
    )
    assert (made["price"], made["active"], made["vintage"]) == ("42.50", True, 2019)
    changed = call("PATCH", "/api/sales/skus/SKU-1001", {"unitPrice": "44", "active": False})
    assert (changed["price"], changed["active"], changed["producer"]) == ("44.00", False, "Vietti")
    cleared = call("PATCH", "/api/sales/skus/BAR-19", {"producer": None})
    assert cleared["producer"] is None

    call(
        "POST",
        "/api/sales/skus",
        {"code": "X", "name": "X", "unitPrice": 1, "externalId": "SKU-1001"},
        409,
    )
    assert (
        "unitPrice"
        in call("POST", "/api/sales/skus", {"code": "Y", "name": "Y"}, 422)["error"]["fields"]
    )
    assert (
        "vintage"
        in call("PATCH", "/api/sales/skus/BAR-19", {"vintage": 12}, 422)["error"]["fields"]
    )
    assert "name" in call("PATCH", "/api/sales/skus/BAR-19", {"name": None}, 422)["error"]["fields"]
    found = call("GET", "/api/sales/skus?q=bar-1")["items"]
    assert [s["code"] for s in found] == ["BAR-19"]
    assert db.session.scalar(select(Sku.code).where(Sku.code.in_(["X", "Y"]))) is None


def test_managers_and_reps_cannot_change_the_catalogue(call, manager, rep, territories):
    for who in (manager, rep):
        call("POST", "/api/sales/territories", {"name": "Mine"}, 403, who=who)
        call("POST", "/api/sales/skus", {"code": "M", "name": "M", "unitPrice": 1}, 403, who=who)
        call(
            "PATCH",
            f"/api/sales/territories/{territories['North'].public_id}",
            {"name": "Z"},
            403,
            who=who,
        )
        call("PATCH", f"/api/users/{rep.public_id}", {"name": "Z"}, 403, who=who)
    assert call("GET", "/api/sales/territories", who=manager)["total"] == 3


def test_a_user_made_over_the_api_gets_a_one_time_invite(call, client, territories):
    made = call(
        "POST",
        "/api/users",
        {"email": "rita@example.com", "name": "Rita", "role": "rep", "territory": "South"},
        201,
    )
    assert "/invite/" in made["inviteUrl"]
    user = db.session.scalar(select(User).where(User.public_id == made["id"]))
    assert user.password_hash is None
    with_password = call(
        "POST",
        "/api/users",
        {"email": "max@example.com", "name": "Max", "role": "manager", "password": "x" * 12},
        201,
    )
    assert "inviteUrl" not in with_password


def test_a_user_is_edited_and_reassigned(call, admin, rep, territories):
    moved = call("PATCH", f"/api/users/{rep.public_id}", {"territory": "East", "name": "R. East"})
    assert (moved["territory"], moved["name"], moved["role"]) == ("East", "R. East", "rep")
    by_external = territories["South"]
    by_external.external_id = "T-S"
    db.session.commit()
    assert (
        call("PATCH", f"/api/users/{rep.public_id}", {"territory": "T-S"})["territory"] == "South"
    )
    promoted = call("PATCH", f"/api/users/{rep.public_id}", {"role": "manager", "territory": None})
    assert (promoted["role"], promoted["territory"]) == ("manager", None)

    bad = call("PATCH", f"/api/users/{rep.public_id}", {"role": "rep"}, 422)
    assert bad["error"]["fields"] == {"territory": "a rep needs a territory"}
    own = call("PATCH", f"/api/users/{admin.public_id}", {"role": "manager"}, 422)
    assert own["error"]["fields"] == {"role": "you cannot change your own role"}
    unknown = call("PATCH", f"/api/users/{rep.public_id}", {"territory": "Atlantis"}, 422)
    assert "territory" in unknown["error"]["fields"]
    assert (
        "role"
        in call("PATCH", f"/api/users/{rep.public_id}", {"role": None}, 422)["error"]["fields"]
    )
    call("PATCH", "/api/users/usr_nope", {"name": "X"}, 404)
    db.session.refresh(rep)
    assert (rep.role, rep.territory) == ("manager", None)


def test_the_last_admin_cannot_be_demoted(client, make_user, token_headers):
    first, second = make_user("admin"), make_user("admin")
    response = client.patch(
        f"/api/users/{second.public_id}", json={"role": "manager"}, headers=token_headers(first)
    )
    assert response.status_code == 200
    # first is the only admin left: not even another caller (a CLI, say) may demote them
    with pytest.raises(UserError, match="last active admin"):
        update_user(first, {"role": "manager"})
    db.session.refresh(first)
    assert first.role == "admin"


def test_the_new_routes_are_in_the_openapi_document(client, call):
    paths = call("GET", "/api/openapi.json")["paths"]
    assert {"post", "get"} <= set(paths["/api/sales/territories"])
    assert "patch" in paths["/api/sales/territories/{territory_id}"]
    assert "patch" in paths["/api/sales/skus/{sku_id}"] and "post" in paths["/api/sales/skus"]
    assert "patch" in paths["/api/users/{user_id}"]
    for path in (
        "/api/sales/marketing/email/messages",
        "/api/sales/marketing/sms/messages",
        "/api/sales/consent-changes",
    ):
        names = {p["name"] for p in paths[path]["get"]["parameters"]}
        assert {"updatedSince", "cursor"} <= names, path
