"""Security defaults: secret key, cookies, headers, secrets encrypted at rest."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import app_settings


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DECANT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings = app_settings(database_url, DECANT_ENV="production")
    settings.pop("SECRET_KEY")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(settings)
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("key", ["short", "x" * 31, "é" * 15])
def test_production_refuses_a_secret_key_under_32_bytes(database_url, key):
    with pytest.raises(RuntimeError, match="32 bytes"):
        create_app(app_settings(database_url, DECANT_ENV="production", SECRET_KEY=key))


def test_production_accepts_a_32_byte_key_and_development_a_short_one(database_url):
    key = "k" * 32
    assert create_app(app_settings(database_url, DECANT_ENV="production", SECRET_KEY=key))
    assert create_app(app_settings(database_url, DECANT_ENV="development", SECRET_KEY="dev"))


def test_development_generates_a_key_into_instance_once(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("DECANT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    settings = app_settings(database_url, DECANT_ENV="development")
    settings.pop("SECRET_KEY")
    first = create_app(settings).config["SECRET_KEY"]
    second = create_app(settings).config["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_cookies_are_secure(database_url):
    app = create_app(app_settings(database_url, DECANT_ENV="production"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize("path", ["/login", "/api/openapi.json", "/sales/customers", "/api/x"])
def test_security_headers_everywhere(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script(client, login, manager):
    import re

    login(manager)
    html = client.get("/sales/customers").get_data(as_text=True)
    inline = [s for s in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) if s[1].strip()]
    assert inline == []
    assert "cdn" not in html.lower()


def test_secrets_are_encrypted_at_rest_and_keys_rotate(app):
    from app import crypto

    token = crypto.encrypt("sk_live_secret")
    assert "sk_live_secret" not in token
    assert crypto.decrypt(token) == "sk_live_secret"
    old_key = crypto.generate_key()
    app.config["ENCRYPTION_KEYS"] = old_key
    old_token = crypto.encrypt("rotate me")
    app.config["ENCRYPTION_KEYS"] = f"{crypto.generate_key()},{old_key}"
    assert crypto.decrypt(old_token) == "rotate me"
    app.config["ENCRYPTION_KEYS"] = crypto.generate_key()
    with pytest.raises(ValueError):
        crypto.decrypt(old_token)


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(database_url):
    from flask import request

    app = create_app(app_settings(database_url, TRUSTED_PROXIES=1))

    @app.get("/whoami")
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    whoami.decant_public = True
    response = app.test_client().get(
        "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert response.get_json() == {"addr": "203.0.113.9", "scheme": "https"}


def test_numeric_settings_from_the_environment_are_numbers(monkeypatch, database_url):
    monkeypatch.setenv("PROVIDER_TIMEOUT", "2.5")
    monkeypatch.setenv("CAMPAIGN_STALE_SECONDS", "30")
    monkeypatch.setenv("PERIODIC_TICK_SECONDS", "5")
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    app = create_app(app_settings(database_url))
    assert app.config["PROVIDER_TIMEOUT"] == 2.5
    assert app.config["CAMPAIGN_STALE_SECONDS"] == 30
    assert app.config["PERIODIC_TICK_SECONDS"] == 5
    assert app.config["SMTP_STARTTLS"] is False
