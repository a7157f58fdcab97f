"""CSV import (preview, per-row rejections, malformed files) and export round trips."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from app.extensions import db
from blueprints.lists.models import EmailListMember


def _upload(call, user, list_id, content: bytes, dry_run: bool = False, name="people.csv"):
    query = "?dryRun=true" if dry_run else ""
    return call(
        user,
        "post",
        f"/{list_id}/import{query}",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _members() -> int:
    return db.session.scalar(select(func.count()).select_from(EmailListMember))


CSV = (
    b"Name,E-mail\r\n"
    b"Vip,VIP@north.example\r\n"
    b"Bad,not an email\r\n"
    b"Dup,vip@NORTH.example\r\n"
    b"Ghost,ghost@nowhere.example\r\n"
    b"South,active@south.example\r\n"
    b"Empty,\r\n"
    b"Prospect,prospect@north.example\r\n"
)


def test_import_preview_then_import_reports_each_rejected_row(app, demo, rep, call):
    lst = call(rep, "post", "", json={"name": "Imported"}).get_json()
    preview = _upload(call, rep, lst["id"], CSV, dry_run=True)
    assert preview.status_code == 200, preview.get_json()
    report = preview.get_json()
    assert report["dryRun"] is True and _members() == 0
    assert report["rows"] == 7 and report["matched"] == 2 and report["added"] == 2
    reasons = {(r["line"], r["reason"].split(":")[0]) for r in report["rejected"]}
    assert reasons == {
        (3, "invalid email"),
        (4, "duplicate"),
        (5, "no such customer"),
        (6, "no such customer"),  # another territory's customer: no oracle
        (7, "missing email"),
    }
    done = _upload(call, rep, lst["id"], CSV).get_json()
    assert done["added"] == 2 and _members() == 2
    again = _upload(call, rep, lst["id"], CSV).get_json()
    assert again["added"] == 0 and again["alreadyMembers"] == 2 and _members() == 2


def test_malformed_files_write_nothing(app, demo, manager, call):
    lst = call(manager, "post", "", json={"name": "M"}).get_json()
    not_utf8 = "email\r\ncafé@north.example\r\n".encode("latin-1")
    response = _upload(call, manager, lst["id"], not_utf8)
    assert response.status_code == 422 and "UTF-8" in response.get_json()["error"]["fields"]["file"]
    response = _upload(call, manager, lst["id"], b"name,phone\r\nA,1\r\n")
    assert (
        response.status_code == 422
        and "email column" in response.get_json()["error"]["fields"]["file"]
    )
    app.config["LIST_IMPORT_MAX_BYTES"] = 64
    big = b"email\r\n" + b"vip@north.example\r\n" * 10
    response = _upload(call, manager, lst["id"], big)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert call(manager, "post", f"/{lst['id']}/import").status_code == 422  # no file
    assert _members() == 0


def test_export_then_import_round_trip(app, demo, manager, call):
    source = call(
        manager,
        "post",
        "",
        json={"name": "Ça va, «wine»", "criteria": {"type": "high_value", "minRevenue": 1}},
    ).get_json()
    demo.customers["north_vip"].name = '=Zoë, "the" buyer'
    db.session.commit()
    response = call(manager, "get", f"/{source['id']}/export")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 4
    assert rows[0]["email"] and "customer_id" in rows[0]
    assert any(r["name"] == '\'=Zoë, "the" buyer' for r in rows)  # formula defused, quoting kept

    target = call(manager, "post", "", json={"name": "Copy"}).get_json()
    report = _upload(call, manager, target["id"], body).get_json()
    assert report["rejected"] == [] and report["added"] == 4
    exported = {r["customer_id"] for r in rows}
    copied = {m["id"] for m in call(manager, "get", f"/{target['id']}/members").get_json()["items"]}
    assert copied == exported


def test_rep_export_only_holds_visible_members(app, demo, manager, rep, call):
    from blueprints.lists import services

    lst = services.create_list(rep, "Rep list", None, None)
    # a customer of another territory slipped in (e.g. moved territory after being added)
    db.session.add(EmailListMember(list_id=lst.id, customer_id=demo.customers["south_active"].id))
    db.session.add(EmailListMember(list_id=lst.id, customer_id=demo.customers["north_vip"].id))
    db.session.commit()
    body = call(rep, "get", f"/{lst.public_id}/export").get_data().decode("utf-8-sig")
    assert "vip@north.example" in body and "active@south.example" not in body
    assert call(rep, "get", f"/{lst.public_id}/members").get_json()["total"] == 1


def test_export_reimports_customers_without_email_by_their_id(
    app, demo, manager, rep, call, make_customer
):
    """Issue 21.10: the export's customer_id column matches rows, email or not."""
    no_email = make_customer("North", name="No Mail Bistro", email=None)
    plus = make_customer("North", name="Plus Wines", email="+orders@north.example")
    source = call(manager, "post", "", json={"name": "Everyone"}).get_json()
    ids = [c.public_id for c in demo.customers.values()] + [no_email.public_id, plus.public_id]
    added = call(manager, "post", f"/{source['id']}/members", json={"customerIds": ids})
    assert added.status_code == 200, added.get_json()
    body = call(manager, "get", f"/{source['id']}/export").get_data()
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert {r["customer_id"]: r["email"] for r in rows}[no_email.public_id] == ""
    assert "'+orders@north.example" in {r["email"] for r in rows}  # formula guard

    target = call(manager, "post", "", json={"name": "Copy"}).get_json()
    report = _upload(call, manager, target["id"], body).get_json()
    assert report["rejected"] == [] and report["rows"] == 7 and report["added"] == 7
    copied = call(manager, "get", f"/{target['id']}/members?perPage=50").get_json()["items"]
    assert {m["id"] for m in copied} == set(ids)

    # a rep importing the same file: other territories' rows are named, not added
    rep_list = call(rep, "post", "", json={"name": "Mine"}).get_json()
    report = _upload(call, rep, rep_list["id"], body).get_json()
    assert report["added"] == 5  # the three North demo customers and the two made here
    hidden = {r["customerId"]: r["reason"] for r in report["rejected"]}
    assert hidden == {
        demo.customers["south_active"].public_id: "not visible to you",
        demo.customers["east_churned"].public_id: "not visible to you",
    }
    unknown = b"customer_id,email\r\ncus_nobody,\r\n"
    report = _upload(call, manager, target["id"], unknown).get_json()
    assert report["rejected"] == [
        {"line": 2, "email": "", "customerId": "cus_nobody", "reason": "no such customer"}
    ]


def test_page_export_then_import_round_trip(app, demo, manager, client, login, make_customer):
    from tests.conftest import csrf_from

    no_email = make_customer("South", name="Cellar Without Mail", email=None)
    login(manager)
    source = services_create(manager, "Source", [no_email.id, demo.customers["north_vip"].id])
    exported = client.get(f"/api/sales/marketing/lists/{source}/export").get_data()
    target = services_create(manager, "Target", [])
    page = client.get(f"/sales/marketing/lists/{target}")
    answer = client.post(
        f"/sales/marketing/lists/{target}/import",
        data={"file": (io.BytesIO(exported), "export.csv"), "csrf_token": csrf_from(page.text)},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200
    assert "2 added, 0 rejected" in answer.get_data(as_text=True)
    shown = client.get(f"/sales/marketing/lists/{target}").get_data(as_text=True)
    assert "Cellar Without Mail" in shown and demo.customers["north_vip"].name in shown


def services_create(user, name: str, customer_ids: list[int]) -> str:
    from blueprints.lists import services

    lst = services.create_list(user, name, None, None)
    for customer_id in customer_ids:
        db.session.add(EmailListMember(list_id=lst.id, customer_id=customer_id))
    db.session.commit()
    services._recount(lst.id)
    db.session.commit()
    return lst.public_id
