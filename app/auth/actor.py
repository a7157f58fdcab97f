"""Who acts on the CRM: a signed-in :class:`~app.auth.models.User`, or the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Actor(Protocol):
    """What scoping and the import pipeline read of whoever acts."""

    @property
    def id(self) -> int | None: ...
    @property
    def email(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def territory_id(self) -> int | None: ...
    @property
    def sees_all_territories(self) -> bool: ...


@dataclass(frozen=True)
class CommandLineActor:
    """``flask import``: an admin with no user row, seeing every territory."""

    id: int | None = None
    email: str = "cli"
    role: str = "admin"
    territory_id: int | None = None
    sees_all_territories: bool = True
