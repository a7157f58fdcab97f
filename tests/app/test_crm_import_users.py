"""Users through the import: no passwords over the API, a one-time invite link instead."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from tests.conftest import csrf_from


def post_users(client, headers, rows):
    response = client.post("/api/sales/import/users", json=rows, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_new_user_sets_a_password_once_through_the_invite(client, admin, token_headers):
    headers = token_headers(admin)
    rows = [
        {
            "externalId": "U-7",
            "name": "Rita Rep",
            "email": "Rita@Example.com",
            "role": "rep",
            "territory": "North",
        }
    ]
    report = post_users(client, headers, rows)
    row = report["rows"][0]
    assert row["result"] == "created" and row["inviteUrl"].startswith("http://localhost/invite/")
    user = db.session.scalar(select(User).where(User.external_id == "U-7"))
    assert user.email == "rita@example.com" and user.password_hash is None
    assert user.territory.name == "North" and user.public_id == row["id"]

    # the replay is unchanged and shows no new link
    again = post_users(client, headers, rows)["rows"][0]
    assert again["result"] == "unchanged" and "inviteUrl" not in again

    path = urlsplit(row["inviteUrl"]).path
    page = client.get(path)
    assert page.status_code == 200 and "Rita Rep" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    short = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert short.status_code == 200 and db.session.get(User, user.id).password_hash is None
    done = client.post(
        path,
        data={"password": "a long new secret", "confirm": "a long new secret", "csrf_token": token},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    # the link is spent: a second use is refused
    assert client.get(path).status_code == 410
    replay = client.post(
        path,
        data={"password": "another secret!", "confirm": "another secret!", "csrf_token": token},
    )
    assert replay.status_code == 410
    login = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": "rita@example.com",
            "password": "a long new secret",
            "csrf_token": csrf_from(login.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302


def test_a_forged_link_and_a_deactivated_user_get_nothing(client, admin, token_headers):
    headers = token_headers(admin)
    report = post_users(
        client,
        headers,
        [{"externalId": "U-8", "name": "Max", "email": "max@example.com", "role": "manager"}],
    )
    path = urlsplit(report["rows"][0]["inviteUrl"]).path
    assert client.get(path + "x").status_code == 410
    # admins can reissue a link (shown once) for any user
    user_id = report["rows"][0]["id"]
    fresh = client.post(f"/api/users/{user_id}/invite", headers=headers)
    assert fresh.status_code == 200 and "/invite/" in fresh.get_json()["inviteUrl"]
    assert post_users(client, headers, [{"externalId": "U-8", "active": False}])["updated"] == 1
    assert client.get(path).status_code == 410


def test_user_rows_are_checked(client, admin, manager, token_headers):
    headers = token_headers(admin)
    # the manager is linked to its external id by email
    linked = post_users(
        client, headers, [{"externalId": "U-M", "email": manager.email, "name": "Mona"}]
    )
    assert linked["rows"][0]["result"] == "updated" and linked["rows"][0]["id"] == manager.public_id
    report = post_users(
        client,
        headers,
        [
            {"externalId": "U-1", "name": "No land", "email": "a@example.com", "role": "rep"},
            {
                "externalId": "U-2",
                "name": "Dup",
                "email": manager.email.upper(),
                "role": "rep",
                "territory": "South",
            },
            {"externalId": "U-3", "name": "Bad", "email": "nope", "role": "manager"},
            {"id": admin.public_id, "active": False},
            {"id": admin.public_id, "role": "rep", "territory": "North"},
            {"externalId": "U-4", "name": "Pat", "email": "pat@example.com", "role": "boss"},
        ],
    )
    errors = [r["errors"] for r in report["rows"]]
    assert errors[0] == {"territory": "a rep needs a territory"}
    assert "already used" in errors[1]["email"]
    assert "email" in errors[2]
    assert errors[3] == {"active": "you cannot deactivate yourself"}
    assert errors[4] == {"externalId": "the same user as row 3 of this batch"}
    assert "role" in errors[5]
    assert report["rejected"] == 6
    demote = [{"id": admin.public_id, "role": "rep", "territory": "North"}]
    assert post_users(client, headers, demote)["rows"][0]["errors"] == {
        "role": "you cannot change your own role"
    }
    forbidden = client.post(f"/api/users/{admin.public_id}/invite", headers=token_headers(manager))
    assert forbidden.status_code == 403
