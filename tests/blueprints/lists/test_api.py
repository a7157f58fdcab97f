"""The lists API: CRUD, validation (422 paths, nothing written), scoping, members."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from blueprints.lists.models import EmailList, EmailListMember


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_manual_list_crud(app, demo, manager, call):
    created = call(manager, "post", "", json={"name": "Tasting", "description": "Spring"})
    assert created.status_code == 201
    lst = created.get_json()
    assert lst["id"].startswith("lst_") and lst["isSmart"] is False and lst["criteria"] is None
    assert lst["memberCount"] == 0 and lst["ownerId"] == manager.public_id
    page = call(manager, "get", "").get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == lst["id"] and page["perPage"] == 50
    patched = call(manager, "patch", f"/{lst['id']}", json={"name": "Autumn tasting"})
    assert patched.get_json()["name"] == "Autumn tasting"
    assert call(manager, "get", f"/{lst['id']}").get_json()["description"] == "Spring"
    assert call(manager, "delete", f"/{lst['id']}").status_code == 204
    assert call(manager, "get", f"/{lst['id']}").status_code == 404


@pytest.mark.parametrize(
    ("criteria", "path"),
    [
        (
            {
                "all": [
                    {"type": "account_type", "accountType": "ACTIVE"},
                    {"type": "no_order_in_days", "days": -1},
                ]
            },
            "criteria.all[1].days",
        ),
        (
            {
                "all": [
                    {"type": "account_type", "accountType": "ACTIVE"},
                    {"type": "no_order_in_days"},
                ]
            },
            "criteria.all[1].days",
        ),
        (
            {"any": [{"not": {"type": "high_value", "minRevenue": "lots"}}]},
            "criteria.any[0].not.minRevenue",
        ),
        ({"type": "high_value", "minRevenue": 1, "extra": 1}, "criteria.extra"),
        ({"type": "bogus"}, "criteria.type"),
        ({"all": [{"kind": "x"}]}, "criteria.all[0].type"),
        ({"all": []}, "criteria.all"),
        ({"type": "account_priority", "accountPriority": "URGENT"}, "criteria.accountPriority"),
        ({"type": "custom", "customQuery": {"accountType": "NOPE"}}, "criteria.customQuery"),
        ({"type": "custom", "customQuery": {"bad key": 1}}, "criteria.customQuery"),
        (
            {
                "not": {
                    "not": {
                        "not": {"not": {"not": {"type": "account_type", "accountType": "ACTIVE"}}}
                    }
                }
            },
            "criteria",
        ),
    ],
)
def test_invalid_criteria_name_the_field_and_write_nothing(
    app, demo, manager, call, criteria, path
):
    for endpoint in ("", "/preview"):
        response = call(
            manager,
            "post",
            endpoint,
            json={"name": "Bad", "criteria": criteria}
            if endpoint == ""
            else {"criteria": criteria},
        )
        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "validation_error"
        assert path in error["fields"], error["fields"]
    assert _count(EmailList) == 0


def test_unknown_references_are_422_with_paths(app, demo, manager, rep, call):
    body = {
        "name": "Refs",
        "criteria": {
            "any": [
                {"type": "ordered_product", "skuId": "sku_nope"},
                {"all": [{"type": "all_in_territory", "territory": "Atlantis"}]},
            ]
        },
    }
    response = call(manager, "post", "", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {
        "criteria.any[0].skuId": "unknown SKU",
        "criteria.any[1].all[0].territory": "unknown territory 'Atlantis'",
    }
    south = {"name": "S", "criteria": {"type": "all_in_territory", "territory": "South"}}
    response = call(rep, "post", "", json=south)
    assert response.get_json()["error"]["fields"] == {
        "criteria.territory": "outside your territory"
    }
    assert _count(EmailList) == 0


def test_smart_list_needs_criteria_and_manual_list_takes_none(app, manager, call):
    assert call(manager, "post", "", json={"name": "x", "isSmart": True}).status_code == 422
    manual = call(manager, "post", "", json={"name": "x"}).get_json()
    response = call(
        manager,
        "patch",
        f"/{manual['id']}",
        json={"criteria": {"type": "account_type", "accountType": "ACTIVE"}},
    )
    assert response.status_code == 422
    assert "criteria" in response.get_json()["error"]["fields"]


def test_preview_counts_samples_scoped_and_writes_nothing(app, demo, manager, rep, call):
    body = {"criteria": {"type": "high_value", "minRevenue": 10000}}
    as_manager = call(manager, "post", "/preview", json=body).get_json()
    assert as_manager["count"] == 4 and len(as_manager["sample"]) == 4
    as_rep = call(rep, "post", "/preview", json=body).get_json()
    assert as_rep["count"] == 2
    assert {s["territory"] for s in as_rep["sample"]} == {"North"}
    assert _count(EmailList) == 0 and _count(EmailListMember) == 0


def test_reps_see_only_their_lists_and_members(app, demo, manager, rep, make_user, call):
    other_rep = make_user("rep", "South")
    mine = call(rep, "post", "", json={"name": "Mine"}).get_json()
    theirs = call(other_rep, "post", "", json={"name": "Theirs"}).get_json()
    managers = call(manager, "post", "", json={"name": "Managers"}).get_json()
    south = demo.customers["south_active"]
    assert (
        call(
            other_rep, "post", f"/{theirs['id']}/members", json={"customerIds": [south.public_id]}
        ).status_code
        == 200
    )

    assert [i["id"] for i in call(rep, "get", "").get_json()["items"]] == [mine["id"]]
    assert call(manager, "get", "").get_json()["total"] == 3
    for lst in (theirs, managers):
        for method, path, kwargs in [
            ("get", "", {}),
            ("patch", "", {"json": {"name": "hijack"}}),
            ("delete", "", {}),
            ("get", "/members", {}),
            (
                "post",
                "/members",
                {"json": {"customerIds": [demo.customers["north_vip"].public_id]}},
            ),
            ("delete", "/members", {"json": {"customerIds": [south.public_id]}}),
            ("get", "/export", {}),
            ("post", "/refresh", {}),
        ]:
            response = call(rep, method, f"/{lst['id']}{path}", **kwargs)
            assert response.status_code == 404, (method, path, response.status_code)
    # a rep cannot add another territory's customer to their own list either
    response = call(rep, "post", f"/{mine['id']}/members", json={"customerIds": [south.public_id]})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"customerIds[0]": "unknown customer"}
    # the manager can edit anyone's list and sees every member
    assert call(manager, "patch", f"/{theirs['id']}", json={"name": "ok"}).status_code == 200
    assert call(manager, "get", f"/{theirs['id']}/members").get_json()["total"] == 1


def test_members_by_email_are_normalised_and_deduplicated(app, demo, manager, call):
    lst = call(manager, "post", "", json={"name": "M"}).get_json()
    emails = ["VIP@North.Example", " vip@north.example", "prospect@NORTH.example"]
    response = call(manager, "post", f"/{lst['id']}/members", json={"emails": emails})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["changed"] == 2
    assert response.get_json()["list"]["memberCount"] == 2
    again = call(manager, "post", f"/{lst['id']}/members", json={"emails": ["vip@north.example"]})
    assert again.get_json()["changed"] == 0 and _count(EmailListMember) == 2

    bad = call(
        manager,
        "post",
        f"/{lst['id']}/members",
        json={"emails": ["vip@north.example", "not-an-email", "ghost@nowhere.example"]},
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"emails[1]"}
    ghost = call(
        manager,
        "post",
        f"/{lst['id']}/members",
        json={"emails": ["active@south.example", "ghost@nowhere.example"]},
    )
    assert set(ghost.get_json()["error"]["fields"]) == {"emails[1]"}
    assert _count(EmailListMember) == 2  # all or nothing

    both = call(manager, "post", f"/{lst['id']}/members", json={"emails": [], "customerIds": []})
    assert both.status_code == 422
    removed = call(
        manager,
        "delete",
        f"/{lst['id']}/members",
        json={"customerIds": [demo.customers["north_vip"].public_id]},
    )
    assert removed.get_json()["changed"] == 1 and removed.get_json()["list"]["memberCount"] == 1
    page = call(manager, "get", f"/{lst['id']}/members?perPage=1").get_json()
    assert page["total"] == 1 and page["items"][0]["email"] == "prospect@north.example"


def test_smart_list_members_are_not_edited_by_hand(app, demo, manager, call):
    lst = call(
        manager,
        "post",
        "",
        json={"name": "S", "criteria": {"type": "account_type", "accountType": "ACTIVE"}},
    ).get_json()
    response = call(
        manager,
        "post",
        f"/{lst['id']}/members",
        json={"customerIds": [demo.customers["east_churned"].public_id]},
    )
    assert response.status_code == 409
    manual = call(manager, "post", "", json={"name": "M"}).get_json()
    assert call(manager, "post", f"/{manual['id']}/refresh").status_code == 422


def test_unique_member_constraint(app, demo, manager):
    from sqlalchemy.exc import IntegrityError

    lst = EmailList(name="U", owner_id=manager.id)
    db.session.add(lst)
    db.session.commit()
    customer_id = demo.customers["north_vip"].id
    db.session.add(EmailListMember(list_id=lst.id, customer_id=customer_id))
    db.session.commit()
    db.session.add(EmailListMember(list_id=lst.id, customer_id=customer_id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_lists_are_in_the_openapi_document(app, client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/sales/marketing/lists/preview" in paths
    assert "/api/sales/marketing/lists/{list_id}/members" in paths


def test_a_territory_criterion_takes_its_name_external_id_or_decant_id(
    app, manager, call, make_customer
):
    """Issue 23, item 3: every criterion naming a territory also takes its external id."""
    from app.crm.models import Territory

    south = db.session.scalar(select(Territory).where(Territory.name == "South"))
    south.external_id = "T-SOUTH"
    db.session.commit()
    make_customer("South", email="s@south.example")
    make_customer("North", email="n@north.example")
    for reference in ("South", "T-SOUTH", south.public_id):
        criteria = {"type": "all_in_territory", "territory": reference}
        response = call(manager, "post", "/preview", json={"criteria": criteria})
        assert response.status_code == 200, (reference, response.get_json())
        assert response.get_json()["count"] == 1
