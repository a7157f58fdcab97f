"""The email channel."""

from __future__ import annotations

from app.channels import Channel
from blueprints.email import models  # noqa: F401 - registers the tables

channel = Channel(name="email")
