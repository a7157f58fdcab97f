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
