"""The sms channel."""

from __future__ import annotations

from app.channels import Channel
from blueprints.sms import models  # noqa: F401 - registers the tables

channel = Channel(name="sms")
