"""Batch keys with the characters an array parameter must carry, and public ids drawn in
bulk: the same records found and made as before (issue 23 item 10, import speed)."""

from __future__ import annotations

import base64

from sqlalchemy import select

from app.crm.imports import engine
from app.crm.models import Territory
from app.extensions import db
from app.ids import new_public_ids
from tests.app.test_crm_import import poster

#: external ids a CRM may well use, and the characters an array literal must escape
AWKWARD = [
    'T "quoted"',
    "T\\back\\slash",
    "T,comma",
    "T {braces}",
    "NULL",
    " spaced ",
    "T-été-東京",
    "T'single'",
    '\\"',
]


def test_awkward_external_ids_are_matched_on_every_database(client, token_headers, admin):
    post = poster(client, token_headers(admin))
    rows = [{"externalId": key, "name": f"Territory {n}"} for n, key in enumerate(AWKWARD)]
    report = post("territories", rows)
    assert report["rejected"] == 0, report["rows"]
    again = post("territories", [{**row, "name": row["name"] + "!"} for row in rows])
    assert (again["updated"], again["created"]) == (len(AWKWARD), 0), again["rows"]
    table = Territory.__table__
    found = engine.fetch_in((table.c.external_id, table.c.name), table.c.external_id, AWKWARD)
    assert sorted(found) == sorted((key, f"Territory {n}!") for n, key in enumerate(AWKWARD))
    ids = db.session.scalars(select(Territory.id)).all()
    by_id = engine.fetch_in((table.c.id,), table.c.id, ids)
    assert sorted(pk for (pk,) in by_id) == sorted(ids)


def test_public_ids_in_bulk_look_like_single_ones():
    ids = new_public_ids("cus", 1000)
    assert len(set(ids)) == 1000
    for public_id in ids:
        prefix, token = public_id.split("_", 1)
        assert prefix == "cus" and len(token) == 16
        assert len(base64.urlsafe_b64decode(token)) == 12
    assert new_public_ids("ord", 0) == []
