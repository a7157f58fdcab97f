"""``flask users create`` and ``flask users token``."""

from __future__ import annotations


def test_users_create_and_token(app, territories, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Rep@Decant.Example",
            "--name",
            "Rita Rep",
            "--role",
            "rep",
            "--territory",
            "North",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "token", "rep@decant.example"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json()["territory"] == "North"


def test_users_create_refuses_bad_input(app, territories):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "not-an-email", "--name", "X", "--role", "manager"]
    )
    assert result.exit_code != 0 and "email" in result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "r@decant.example",
            "--name",
            "R",
            "--role",
            "rep",
            "--territory",
            "Atlantis",
        ]
    )
    assert result.exit_code != 0 and "territory" in result.output


def test_token_for_unknown_user_fails(app):
    result = app.test_cli_runner().invoke(args=["users", "token", "ghost@decant.example"])
    assert result.exit_code != 0
