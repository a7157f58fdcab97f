"""The mailchimp channel."""

from __future__ import annotations

from app.channels import Channel
from blueprints.mailchimp import models  # noqa: F401 - registers the tables

channel = Channel(name="mailchimp")
