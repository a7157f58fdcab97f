"""Campaign tests use the lists channel's manual lists (the audience) and the dev outbox."""

from __future__ import annotations

from tests.blueprints.email.conftest import call, make_list  # noqa: F401 - shared fixtures
