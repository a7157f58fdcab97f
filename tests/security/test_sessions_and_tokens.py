"""Sessions and tokens can be ended: logout ends the session server-side (a copied cookie
stops working), deactivation stops a user's live sessions and tokens at once, admins
revoke tokens (CLI, API, page) and tokens can expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.models import ApiToken, User
from app.auth.services import issue_token_row
from app.extensions import db
from app.models_base import utcnow
from tests.conftest import PASSWORD, csrf_from

ME = "/api/users/me"
CUSTOMERS = "/sales/customers"


def _copy_cookies(source: FlaskClient, target: FlaskClient, *names: str) -> None:
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, f"no {name} cookie"
        target.set_cookie(name, cookie.value, domain=cookie.domain)


def _logout(client: FlaskClient) -> None:
    """Sign out through the navigation bar's form (CSRF token and all)."""
    html = client.get(CUSTOMERS).get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- logout --------------------------------------------------------------------------


def test_a_copied_session_cookie_stops_working_after_logout(app, client, login, manager):
    login(manager)
    thief = app.test_client()
    _copy_cookies(client, thief, "session")
    assert thief.get(ME).status_code == 200  # the copy works while the session lives
    _logout(client)
    assert client.get(ME).status_code == 401
    assert thief.get(ME).status_code == 401
    assert thief.get(CUSTOMERS).status_code == 302  # pages send it to the login form


def test_a_copied_remember_me_cookie_stops_working_after_logout(app, client, manager):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": manager.email,
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    thief = app.test_client()
    _copy_cookies(client, thief, "remember_token")  # no session cookie: the remember one
    assert thief.get(ME).status_code == 200
    thief.delete_cookie("session")
    _logout(client)
    replay = app.test_client()
    _copy_cookies(thief, replay, "remember_token")
    assert replay.get(ME).status_code == 401


def test_logging_in_again_after_logout_works(client, login, manager):
    login(manager)
    _logout(client)
    login(manager)
    assert client.get(ME).status_code == 200


# --- deactivation --------------------------------------------------------------------


def test_deactivation_stops_a_live_session_and_a_token_at_once(
    app, client, login, rep, admin, token_headers
):
    login(rep)
    rep_token = token_headers(rep)
    assert client.get(ME).status_code == 200
    assert client.get(ME, headers=rep_token).status_code == 200
    admin_api = token_headers(admin)

    response = client.post(f"/api/users/{rep.public_id}/deactivate", headers=admin_api)
    assert response.status_code == 200 and response.get_json()["active"] is False

    assert client.get(ME).status_code == 401  # the rep's browser, on its very next request
    assert client.get(CUSTOMERS).status_code == 302
    bare = app.test_client()
    assert bare.get(ME, headers=rep_token).status_code == 401
    page = bare.get("/login")
    refused = bare.post(
        "/login",
        data={
            "email": rep.email,
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert refused.status_code == 401

    response = client.post(f"/api/users/{rep.public_id}/reactivate", headers=admin_api)
    assert response.status_code == 200 and response.get_json()["active"] is True
    assert bare.get(ME, headers=rep_token).status_code == 200  # unrevoked tokens come back
    assert client.get(ME).status_code == 401  # the old session does not
    fresh = app.test_client()
    login(rep, target=fresh)
    assert fresh.get(ME).status_code == 200


def test_admins_cannot_deactivate_themselves_or_the_last_admin(app, client, admin, token_headers):
    from app.auth.services import UserError, deactivate_user

    response = client.post(f"/api/users/{admin.public_id}/deactivate", headers=token_headers(admin))
    assert response.status_code == 422
    assert "user" in response.get_json()["error"]["fields"]
    with pytest.raises(UserError, match="last active admin"):
        deactivate_user(admin)
    assert _fresh(admin).active


def test_only_admins_reach_the_user_admin_api(client, manager, rep, token_headers):
    headers = token_headers(manager)
    for method, path in (
        ("get", f"/api/users/{rep.public_id}/tokens"),
        ("post", f"/api/users/{rep.public_id}/tokens"),
        ("post", f"/api/users/{rep.public_id}/deactivate"),
        ("post", f"/api/users/{rep.public_id}/reactivate"),
        ("post", f"/api/users/{rep.public_id}/tokens/tok_x/revoke"),
    ):
        response = client.open(path, method=method.upper(), headers=headers, json={})
        assert response.status_code == 403, (method, path, response.status_code)
    assert _fresh(rep).active


# --- tokens: API ---------------------------------------------------------------------


def test_admin_lists_issues_and_revokes_tokens_through_the_api(client, admin, rep, token_headers):
    headers = token_headers(admin)
    base = f"/api/users/{rep.public_id}/tokens"
    created = client.post(base, headers=headers, json={"name": "zapier", "expiresIn": "30d"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    secret = body["token"]
    assert body["name"] == "zapier" and body["usable"] is True and body["expiresAt"]
    row = db.session.scalar(select(ApiToken).where(ApiToken.public_id == body["id"]))
    assert abs(row.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)
    rep_headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(ME, headers=rep_headers).get_json()["email"] == rep.email

    listed = client.get(base, headers=headers).get_json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0] and secret[8:] not in str(listed)

    revoked = client.post(f"{base}/{body['id']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.get_json()["revokedAt"]
    assert revoked.get_json()["usable"] is False
    response = client.get(ME, headers=rep_headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_revoking_another_users_token_by_its_id_under_the_wrong_user_is_404(
    client, admin, rep, manager, token_headers
):
    from app.auth.services import issue_token_row

    row, _ = issue_token_row(manager, "mine")
    response = client.post(
        f"/api/users/{rep.public_id}/tokens/{row.public_id}/revoke", headers=token_headers(admin)
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is None


@pytest.mark.parametrize("bad", ["30", "d", "0d", "-1d", "10y", "99999w", "30 days"])
def test_a_bad_expiry_is_422_naming_expires_in(client, admin, rep, token_headers, bad):
    response = client.post(
        f"/api/users/{rep.public_id}/tokens", headers=token_headers(admin), json={"expiresIn": bad}
    )
    assert response.status_code == 422
    assert "expiresIn" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == rep.id)) is None


def test_an_expired_token_is_refused_with_401(client, manager):
    from app.auth.services import issue_token

    token = issue_token(manager, "short", timedelta(minutes=5))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(ME, headers=headers).status_code == 200
    row = db.session.scalar(select(ApiToken))
    row.expires_at = utcnow() - timedelta(seconds=1)  # five minutes later
    db.session.commit()
    response = client.get(ME, headers=headers)
    assert response.status_code == 401
    assert "expired" in response.get_json()["error"]["message"]


# --- tokens and users: CLI -----------------------------------------------------------


def test_cli_issues_expiring_tokens_lists_and_revokes_them(app, client, rep):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", rep.email, "--expires-in", "30d"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(ME, headers=headers).status_code == 200
    row = db.session.scalar(select(ApiToken))
    assert abs(row.expires_at - (utcnow() + timedelta(days=30))) < timedelta(minutes=1)

    listed = runner.invoke(args=["users", "tokens", rep.email])
    assert listed.exit_code == 0 and row.public_id in listed.output and "active" in listed.output
    assert secret not in listed.output

    result = runner.invoke(args=["users", "revoke-token", row.public_id])
    assert result.exit_code == 0, result.output
    assert client.get(ME, headers=headers).status_code == 401
    assert "revoked" in runner.invoke(args=["users", "tokens", rep.email]).output

    bad = runner.invoke(args=["users", "token", rep.email, "--expires-in", "soon"])
    assert bad.exit_code != 0 and "--expires-in" in bad.output
    assert runner.invoke(args=["users", "revoke-token", "tok_nope"]).exit_code != 0


def test_cli_deactivates_and_reactivates(app, client, login, rep, token_headers):
    login(rep)
    headers = token_headers(rep)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "deactivate", rep.email])
    assert result.exit_code == 0, result.output
    assert client.get(ME).status_code == 401
    assert client.get(ME, headers=headers).status_code == 401
    assert "deactivated" in runner.invoke(args=["users", "list"]).output
    result = runner.invoke(args=["users", "reactivate", rep.email])
    assert result.exit_code == 0 and _fresh(rep).active
    assert client.get(ME, headers=headers).status_code == 200
    assert runner.invoke(args=["users", "deactivate", "nobody@x.example"]).exit_code != 0


# --- the admin page ------------------------------------------------------------------


def test_admin_page_deactivates_after_confirmation_with_csrf(app, client, login, admin, rep):
    rep_browser = app.test_client()
    login(rep, target=rep_browser)
    login(admin)
    listing = client.get("/users")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert rep.email in html and f"/users/{rep.public_id}/deactivate" in html
    assert 'href="/users"' in client.get(CUSTOMERS).get_data(as_text=True)  # in the nav

    confirm = client.get(f"/users/{rep.public_id}/deactivate")  # asks, changes nothing
    assert confirm.status_code == 200 and "Deactivate" in confirm.get_data(as_text=True)
    assert _fresh(rep).active
    assert client.post(f"/users/{rep.public_id}/deactivate").status_code == 400  # no CSRF
    assert _fresh(rep).active

    done = client.post(
        f"/users/{rep.public_id}/deactivate",
        data={"csrf_token": csrf_from(confirm.get_data(as_text=True))},
    )
    assert done.status_code == 303
    assert not _fresh(rep).active
    assert rep_browser.get(ME).status_code == 401

    html = client.get("/users").get_data(as_text=True)
    assert "deactivated" in html and f"/users/{rep.public_id}/reactivate" in html
    again = client.post(f"/users/{rep.public_id}/reactivate", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 303 and _fresh(rep).active


def test_admin_page_revokes_a_token_after_confirmation(client, login, admin, rep):
    from app.auth.services import issue_token_row

    row, secret = issue_token_row(rep, "laptop")
    login(admin)
    html = client.get("/users").get_data(as_text=True)
    url = f"/users/{rep.public_id}/tokens/{row.public_id}/revoke"
    assert url in html and row.hint in html and secret[8:] not in html
    confirm = client.get(url)
    assert confirm.status_code == 200 and row.hint in confirm.get_data(as_text=True)
    assert client.post(url).status_code == 400  # no CSRF
    done = client.post(url, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert done.status_code == 303
    assert client.get(ME, headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in client.get("/users").get_data(as_text=True)


def test_managers_read_the_users_page_but_only_admins_act_on_it(client, login, manager, rep, admin):
    issue_token_row(rep, "laptop")
    login(manager)
    listing = client.get("/users").get_data(as_text=True)
    assert rep.email in listing and "laptop" not in listing  # tokens are for admins
    assert "Deactivate" not in listing and "New user" not in listing
    assert client.get(f"/users/{rep.public_id}/deactivate").status_code == 403
    assert 'href="/users"' in client.get(CUSTOMERS).get_data(as_text=True)


def test_reps_do_not_see_the_users_page(client, login, rep):
    login(rep)
    assert client.get("/users").status_code == 403
    assert 'href="/users"' not in client.get(CUSTOMERS).get_data(as_text=True)


# --- caching -------------------------------------------------------------------------


def test_authenticated_json_is_not_stored_by_caches(client, login, manager, token_headers):
    assert client.get(ME, headers=token_headers(manager)).headers["Cache-Control"] == "no-store"
    login(manager)
    assert client.get(ME).headers["Cache-Control"] == "no-store"
    assert client.get("/api/sales/customers").headers["Cache-Control"] == "no-store"
