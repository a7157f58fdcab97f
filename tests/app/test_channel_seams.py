"""What a channel declares and the core honours: typed settings, requirements, its own
migrations, activity types."""

from __future__ import annotations

import pytest

from app import create_app
from app.channels import Channel, activity_types, check_requirements, version_locations
from app.config import Setting, apply_settings
from tests.conftest import app_settings

DECLARED = (
    Setting("DEMO_LIMIT", int, 5, "how many"),
    Setting("DEMO_ON", bool, False, "switch"),
    Setting("DEMO_NAMES", tuple, (), "names"),
    Setting("DEMO_TOKEN", str, None, "secret", secret=True),
)


def test_declared_settings_are_typed_and_the_environment_beats_the_instance_file(app, monkeypatch):
    app.config["DEMO_LIMIT"] = "7"  # as instance/config.py or a prefix might leave it
    monkeypatch.setenv("DEMO_ON", "yes")
    monkeypatch.setenv("DEMO_NAMES", "a, b,,c")
    apply_settings(app, DECLARED)
    assert app.config["DEMO_LIMIT"] == 7
    assert app.config["DEMO_ON"] is True
    assert app.config["DEMO_NAMES"] == ("a", "b", "c")
    assert app.config["DEMO_TOKEN"] is None
    monkeypatch.setenv("DEMO_LIMIT", "9")
    apply_settings(app, DECLARED)
    assert app.config["DEMO_LIMIT"] == 9


def test_an_override_given_to_create_app_beats_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("WHATSAPP_BATCH_SIZE", "3")
    app = create_app(app_settings(database_url, WHATSAPP_BATCH_SIZE=11))
    assert app.config["WHATSAPP_BATCH_SIZE"] == 11
    app = create_app(app_settings(database_url))
    assert app.config["WHATSAPP_BATCH_SIZE"] == 3


def test_a_badly_typed_setting_stops_the_app_naming_it(database_url, monkeypatch):
    monkeypatch.setenv("WHATSAPP_BATCH_SIZE", "many")
    with pytest.raises(RuntimeError, match="WHATSAPP_BATCH_SIZE must be a int"):
        create_app(app_settings(database_url))


def test_a_channel_missing_what_it_requires_stops_the_app(database_url):
    with pytest.raises(RuntimeError, match="'whatsapp' requires 'lists'"):
        create_app(app_settings(database_url, CHANNELS="email,sms,webhooks,whatsapp"))
    check_requirements({"lists": Channel("lists"), "x": Channel("x", requires=("lists",))})


def test_flask_channels_settings_lists_each_declared_setting(app):
    app.extensions["decant_channels"]["demo"] = Channel("demo", settings=DECLARED)
    app.config["DEMO_TOKEN"] = "secret-value"
    result = app.test_cli_runner().invoke(args=["channels", "settings"])
    assert result.exit_code == 0, result.output
    assert "[whatsapp] WHATSAPP_FROM (str)" in result.output
    assert "WHATSAPP_RATE_LIMIT (int) = 80" in result.output
    assert "Messages per second" in result.output
    assert "[demo] DEMO_TOKEN (str) = (set)" in result.output
    assert "secret-value" not in result.output


def test_channels_add_activity_types_and_migration_folders(app):
    assert {"Email", "SMS", "Note", "WhatsApp"} <= set(activity_types(app))
    assert any(path.endswith("decant_whatsapp/migrations") for path in version_locations(app))


def test_converted_channels_get_typed_settings_from_the_environment(database_url, monkeypatch):
    """SMS and webhooks declare theirs now: a number from the environment is a number
    (before, an SMS_ variable read by prefix stayed a string)."""
    monkeypatch.setenv("SMS_BATCH_SIZE", "7")
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "3")
    app = create_app(app_settings(database_url))
    assert app.config["SMS_BATCH_SIZE"] == 7
    assert app.config["WEBHOOK_MAX_ATTEMPTS"] == 3
    assert app.config["SMS_RATE_LIMIT"] == "1/1"
