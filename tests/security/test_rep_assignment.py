"""A rep cannot make another user a customer's rep (on create or update): 403 naming
repId and nothing written. Managers and admins assign any active user."""

from __future__ import annotations

import pytest

from app.crm.models import Customer
from app.extensions import db
from tests.security.conftest import diff, snapshot

CUSTOMERS = "/api/sales/customers"


@pytest.fixture
def other_rep(make_user):
    return make_user("rep", "North")


def test_a_rep_cannot_create_a_customer_for_another_user(api, rep, other_rep, manager):
    before = snapshot()
    for someone in (other_rep, manager):
        body = {"name": "Cellar", "territory": "North", "repId": someone.public_id}
        response = api(rep, "post", CUSTOMERS, json=body)
        assert response.status_code == 403, response.get_json()
        assert "repId" in response.get_json()["error"]["fields"]
    assert not diff(before, snapshot())


def test_a_rep_cannot_hand_a_customer_to_another_user(api, rep, other_rep, make_customer):
    customer = make_customer("North", rep=rep)
    before = snapshot()
    response = api(
        rep, "patch", f"{CUSTOMERS}/{customer.public_id}", json={"repId": other_rep.public_id}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["fields"] == {"repId": "not yourself"}
    assert not diff(before, snapshot())


def test_a_rep_may_name_themselves(api, rep, make_customer):
    customer = make_customer("North")
    response = api(rep, "patch", f"{CUSTOMERS}/{customer.public_id}", json={"repId": rep.public_id})
    assert response.status_code == 200 and response.get_json()["repId"] == rep.public_id
    created = api(rep, "post", CUSTOMERS, json={"name": "Mine", "repId": rep.public_id})
    assert created.status_code == 201 and created.get_json()["repId"] == rep.public_id


def test_a_manager_assigns_any_active_user_but_not_an_inactive_one(
    api, manager, rep, other_rep, make_customer
):
    from app.auth.services import deactivate_user

    customer = make_customer("North", rep=rep)
    url = f"{CUSTOMERS}/{customer.public_id}"
    response = api(manager, "patch", url, json={"repId": other_rep.public_id})
    assert response.status_code == 200 and response.get_json()["repId"] == other_rep.public_id
    deactivate_user(rep)
    response = api(manager, "patch", url, json={"repId": rep.public_id})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"repId": "inactive user"}
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).rep_id == other_rep.id
