"""Without the WhatsApp package the app starts, migrates and the other channels work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).with_name("without_plugin.py")
ROOT = Path(__file__).resolve().parents[3]


def test_app_starts_and_other_channels_work_without_the_plugin(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DECANT_INSTANCE_PATH"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), str(tmp_path / "no-wa.sqlite")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["importable"] is False and "whatsapp" not in seen["entry_points"]
    assert "whatsapp" not in seen["channels"] and {"email", "sms", "lists"} <= set(seen["channels"])
    assert seen["tables"] == []
    assert seen["email"] == 201 and seen["sms"] == 201
    assert seen["sms_campaign"] == [202, "sent"]
    assert seen["whatsapp_api"] == 404
    assert "WhatsApp" not in seen["activities"] and {"Email", "SMS"} <= set(seen["activities"])
    assert seen["page"] == 200


def test_the_launcher_really_hides_an_installed_plugin():
    """Control: in this process (plug-in installed) the same checks see it."""
    from importlib.metadata import entry_points

    import decant_whatsapp  # noqa: F401

    assert "whatsapp" in {ep.name for ep in entry_points(group="decant.channels")}
