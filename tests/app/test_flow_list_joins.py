"""The "joined a list" flow trigger fires however a customer joins: the API, a CSV import,
a smart list's refresh (one signal, so one flow job, per batch), and (in
tests/blueprints/mailchimp) a Mailchimp audience import."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.flows.models import FlowRun
from app.signals import list_members_added
from tests.app.test_flows import api, make_flow  # noqa: F401 - the fixture

LISTS = "/api/sales/marketing/lists"


@pytest.fixture
def lists_api(client, token_headers, manager):
    headers = token_headers(manager)

    def call(method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        answer = client.open(f"{LISTS}{path}", method=method, headers=headers, **kwargs)
        assert answer.status_code == expect, answer.get_data(as_text=True)[:2000]
        return answer.get_json()

    return call


@pytest.fixture
def signals(app):
    """Each ``list_members_added`` sent: (list id, customer ids)."""
    sent: list[tuple[str, list[int]]] = []

    def record(_sender: Any, *, list_id: str, customer_ids: list[int], **_: Any) -> None:
        sent.append((list_id, sorted(customer_ids)))

    list_members_added.connect(record, sender=app, weak=False)
    yield sent
    list_members_added.disconnect(record, sender=app)


def entered() -> list[int]:
    db.session.expire_all()
    return sorted(db.session.scalars(select(FlowRun.customer_id)))


def high_priority_list(lists_api, name: str) -> dict[str, Any]:
    """A smart list of the HIGH priority accounts, made through the API."""
    criteria = {"type": "account_priority", "accountPriority": "HIGH"}
    return lists_api("POST", "", 201, json={"name": name, "isSmart": True, "criteria": criteria})


def welcome_flow(api, list_id: str) -> None:  # noqa: F811 - the fixture's value
    make_flow(api, [{"type": "tag", "tag": "welcomed"}], {"type": "list_joined", "listId": list_id})


def test_an_api_add_enters_the_flow(api, lists_api, make_customer, signals):  # noqa: F811
    lst = lists_api("POST", "", 201, json={"name": "Tasting"})
    welcome_flow(api, lst["id"])
    first, second = make_customer(), make_customer()
    body = {"customerIds": [first.public_id, second.public_id]}
    lists_api("POST", f"/{lst['id']}/members", 200, json=body)
    assert entered() == sorted([first.id, second.id])
    assert signals == [(lst["id"], sorted([first.id, second.id]))]
    lists_api("POST", f"/{lst['id']}/members", 200, json=body)  # already members
    assert len(signals) == 1 and len(entered()) == 2


def test_a_csv_import_enters_those_it_adds_once(api, lists_api, make_customer, signals):  # noqa: F811
    lst = lists_api("POST", "", 201, json={"name": "Fair visitors"})
    welcome_flow(api, lst["id"])
    already = make_customer(email="already@example.com")
    new = make_customer(email="new@example.com")
    lists_api("POST", f"/{lst['id']}/members", 200, json={"customerIds": [already.public_id]})
    data = b"email\r\nalready@example.com\r\nNEW@example.com\r\nnobody@example.com\r\n"

    def upload(query: str = "") -> dict[str, Any]:
        return lists_api(
            "POST",
            f"/{lst['id']}/import{query}",
            200,
            data={"file": (io.BytesIO(data), "fair.csv")},
            content_type="multipart/form-data",
        )

    assert upload("?dryRun=true")["added"] == 1
    assert entered() == [already.id]  # a preview enters no one
    assert upload()["added"] == 1
    assert entered() == sorted([already.id, new.id])
    assert signals[-1] == (lst["id"], [new.id])  # one signal for the file


def test_a_smart_list_refresh_enters_its_new_members_one_signal_per_batch(
    app,
    api,  # noqa: F811
    lists_api,
    make_customer,
    signals,
):
    from blueprints.lists import services

    app.config["LIST_REFRESH_SLICE"] = 2
    smart = high_priority_list(lists_api, "Top accounts")
    welcome_flow(api, smart["id"])
    actives = [make_customer(account_priority="HIGH") for _ in range(5)]
    make_customer(account_priority="LOW")
    list_pk = db.session.scalar(
        select(services.EmailList.id).where(services.EmailList.public_id == smart["id"])
    )
    signals.clear()
    services.refresh(list_pk)
    assert entered() == sorted(c.id for c in actives)
    assert [len(ids) for _, ids in signals] == [2, 2, 1]  # a batch, a signal
    services.refresh(list_pk)  # nobody new: no signal, no entry
    assert len(signals) == 3 and len(entered()) == 5


def test_a_refresh_of_a_list_deleted_midway_enters_no_one_after(
    app,
    lists_api,
    make_customer,
    signals,
):
    """A list deleted while its refresh streams: the later batches write nothing, so they
    signal nothing (they used to signal their whole batch as joined)."""
    from sqlalchemy import delete

    from blueprints.lists import services

    app.config["LIST_REFRESH_SLICE"] = 2
    smart = high_priority_list(lists_api, "Short-lived")
    for _ in range(5):
        make_customer(account_priority="HIGH")
    list_pk = db.session.scalar(
        select(services.EmailList.id).where(services.EmailList.public_id == smart["id"])
    )

    def delete_the_list(_sender: Any, **_: Any) -> None:  # another user, after batch one
        db.session.execute(
            delete(services.EmailListMember).where(services.EmailListMember.list_id == list_pk)
        )
        db.session.execute(delete(services.EmailList).where(services.EmailList.id == list_pk))
        db.session.commit()

    signals.clear()
    list_members_added.connect(delete_the_list, sender=app, weak=False)
    try:
        services.refresh(list_pk)
    finally:
        list_members_added.disconnect(delete_the_list, sender=app)
    assert [len(ids) for _, ids in signals] == [2]  # the first batch only
