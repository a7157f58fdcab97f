"""The channel registry: entry points, the CHANNELS switch, and a core free of channels."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.channels import available_channels
from tests.conftest import app_settings

ROOT = Path(__file__).resolve().parents[2]

DUMMY_CHANNEL = '''
import click
from flask import Blueprint
from app.channels import Channel, NavEntry, PeriodicJob
from app.signals import customer_changed

bp = Blueprint("dummy", __name__)
seen = []

@bp.get("/dummy/hello")
def hello():
    return {"hello": "from a plug-in"}

@click.group("dummy")
def cli():
    """Dummy commands."""

@cli.command("ping")
def ping():
    click.echo("pong")

def on_change(sender, **kwargs):
    seen.append(kwargs["customer_id"])

def tick():
    seen.append("tick")

channel = Channel(
    name="dummy",
    blueprints=[bp],
    nav=[NavEntry("Dummy", "dummy.hello")],
    cli=cli,
    periodic_jobs=[PeriodicJob("dummy-tick", "dummy_channel:tick", 60)],
    subscriptions=[(customer_changed, on_change)],
)
'''


@pytest.fixture
def dummy_installed(tmp_path):
    """Install a channel package the way pip would: a module plus dist-info entry points."""
    (tmp_path / "dummy_channel.py").write_text(textwrap.dedent(DUMMY_CHANNEL))
    dist = tmp_path / "dummy_channel-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dummy-channel\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[decant.channels]\ndummy = dummy_channel:channel\n")
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    sys.modules.pop("dummy_channel", None)


def test_a_third_party_channel_plugs_in_through_its_entry_point(
    _schema, database_url, dummy_installed, make_customer
):
    assert "dummy" in available_channels()
    app = create_app(app_settings(database_url, CHANNELS="dummy"))
    assert "dummy" in app.extensions["decant_channels"]
    assert any(r.rule == "/dummy/hello" for r in app.url_map.iter_rules())
    # its CLI group, periodic job and nav entry are wired
    result = app.test_cli_runner().invoke(args=["dummy", "ping"])
    assert result.output.strip() == "pong"
    assert "dummy-tick" in app.extensions["decant_periodic"]
    from app.channels import nav_entries

    assert [e.label for e in nav_entries(app, "rep")] == ["Dummy"]
    # its signal receiver hears the core
    import dummy_channel

    with app.app_context():
        from app.crm import services
        from app.extensions import db

        class Manager:
            sees_all_territories = True
            role = "manager"
            territory = None

        services.create_customer(Manager(), {"name": "Signal Bistro"})
        assert dummy_channel.seen and isinstance(dummy_channel.seen[-1], int)
        db.session.remove()


def test_a_channel_switched_off_is_not_loaded(_schema, database_url, dummy_installed):
    app = create_app(app_settings(database_url, CHANNELS=""))
    assert app.extensions["decant_channels"] == {}
    assert not any(r.rule.startswith("/dummy") for r in app.url_map.iter_rules())
    assert "dummy_channel" not in sys.modules  # never even imported


def test_the_core_runs_with_no_channel_at_all(_schema, database_url, territories, make_user):
    app = create_app(app_settings(database_url, CHANNELS=""))
    client = app.test_client()
    with app.app_context():
        from app.auth.services import create_user, issue_token

        user = create_user("solo@decant.example", "Solo", "manager", "x" * 12)
        token = issue_token(user)
    response = client.get("/api/sales/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    marketing = {
        r.endpoint.split(".")[0] for r in app.url_map.iter_rules() if "/marketing" in r.rule
    }
    # only the core's own marketing pages (templates, dashboard, email preview, sunset
    # report), no channel's
    assert "templates" in marketing, marketing
    core = {
        "templates",
        "templates_api",
        "dashboard",
        "dashboard_api",
        "preflight",
        "preflight_api",
        "sunset",
        "sunset_api",
    }
    assert marketing <= core, marketing


def test_unknown_channel_names_fail_loudly(database_url):
    with pytest.raises(RuntimeError, match="CHANNELS names nope"):
        create_app(app_settings(database_url, CHANNELS="nope"))


def test_the_core_never_imports_a_channel():
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "blueprints"]
    assert not offenders


def test_channels_never_import_each_other():
    channels_dir = ROOT / "blueprints"
    names = {p.name for p in channels_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    offenders = []
    for name in names:
        for path in (channels_dir / name).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                module = None
                if isinstance(node, ast.ImportFrom) and node.module:
                    module = node.module
                elif isinstance(node, ast.Import):
                    module = node.names[0].name
                if module and module.startswith("blueprints."):
                    other = module.split(".")[1]
                    if other != name:
                        offenders.append(f"{path}: {module}")
    assert not offenders
