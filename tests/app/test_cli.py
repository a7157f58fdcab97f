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


def test_flask_serve_answers_http(database_url, tmp_path):
    """``make run`` ends in ``flask serve``: it must really serve (app.run() would not)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path
    from urllib.request import urlopen

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DECANT_ENV": "development",
        "DECANT_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(root),
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, server.stdout.read1().decode()
                assert server.poll() is None, server.stdout.read().decode()
                time.sleep(0.3)
        assert "Sign in" in page
    finally:
        server.terminate()
        server.wait(10)
