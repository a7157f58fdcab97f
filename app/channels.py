"""The channel registry: how the core finds and wires plug-in channels.

A channel is a package exposing a :class:`Channel` through the entry-point group
``decant.channels`` (see pyproject.toml). The core loads only the channels named in the
``CHANNELS`` setting (``all`` by default), checks what each requires, reads the settings
each declares, registers their blueprints, CLI group, periodic jobs and signal receivers,
adds their Alembic version locations, and builds the navigation from their nav entries.
The core never imports a channel by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import click
from blinker import Signal
from flask import Blueprint, Flask, current_app

from app.config import Setting, apply_settings

ENTRY_POINT_GROUP = "decant.channels"
ALL_ROLES = ("admin", "manager", "rep")


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation, shown to the given roles."""

    label: str
    endpoint: str
    roles: tuple[str, ...] = ALL_ROLES
    order: int = 50
    #: (current user) -> a count shown beside the label (unread texts), 0 for none
    badge: Callable[[Any], int] | None = None

    @property
    def badge_id(self) -> str:
        """The badge element's id, for pages that refresh it (htmx out-of-band swaps)."""
        return "nav-badge-" + self.endpoint.replace(".", "-")


@dataclass(frozen=True)
class PeriodicJob:
    """A job enqueued every ``every_seconds`` (or the value of ``interval_setting``)."""

    name: str
    func: str
    every_seconds: int
    interval_setting: str | None = None
    queue: str = "maintenance"

    def interval(self, config: dict[str, Any]) -> int:
        if self.interval_setting and config.get(self.interval_setting):
            return int(config[self.interval_setting])
        return self.every_seconds


@dataclass
class Channel:
    """What a channel provides. Everything but the name is optional."""

    name: str
    blueprints: Sequence[Blueprint] = ()
    nav: Sequence[NavEntry] = ()
    cli: click.Group | None = None
    periodic_jobs: Sequence[PeriodicJob] = ()
    subscriptions: Sequence[tuple[Signal, Callable[..., Any]]] = ()
    #: Called once per app after blueprints are registered (defaults, registries...).
    setup: Callable[[Flask], None] | None = None
    #: Called by ``flask setup`` after migrations and demo data (seed default rows).
    seed: Callable[[], object] | None = None
    #: Public endpoints (no login): webhooks, tracking, unsubscribe.
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: Settings the channel reads, typed and documented (see :class:`app.config.Setting`).
    settings: Sequence[Setting] = ()
    #: Channels that must be enabled too (the app refuses to start otherwise).
    requires: Sequence[str] = ()
    #: A folder of Alembic revisions for the channel's own tables (its own branch).
    migrations: str | None = None
    #: Activity types the channel writes on the customer timeline.
    activity_types: Sequence[str] = ()


def available_channels() -> dict[str, Any]:
    """Entry points of every installed channel, by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def enabled_names(setting: str | Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """Resolve the CHANNELS setting: ``all``, or a comma-separated list of names."""
    if setting is None or setting == "all" or setting == ["all"]:
        return sorted(available)
    names = [n.strip() for n in setting.split(",")] if isinstance(setting, str) else setting
    names = [n for n in names if n]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise RuntimeError(
            f"CHANNELS names {', '.join(unknown)} but installed channels are: "
            f"{', '.join(sorted(available)) or 'none'}"
        )
    return list(names)


def init_app(app: Flask) -> None:
    """Load the enabled channels and wire each into the app."""
    available = available_channels()
    channels: dict[str, Channel] = {}
    for name in enabled_names(app.config.get("CHANNELS"), list(available)):
        channel = available[name].load()
        if callable(channel) and not isinstance(channel, Channel):
            channel = channel()
        if not isinstance(channel, Channel):
            raise RuntimeError(f"entry point {name!r} does not give a Channel")
        channels[name] = channel
    check_requirements(channels)
    app.extensions["decant_channels"] = channels
    for channel in channels.values():
        apply_settings(app, channel.settings)
    for channel in channels.values():
        _wire(app, channel)


def check_requirements(channels: dict[str, Channel]) -> None:
    """Refuse to start when an enabled channel needs one that is not enabled."""
    missing = [
        f"{channel.name!r} requires {needed!r}"
        for channel in channels.values()
        for needed in channel.requires
        if needed not in channels
    ]
    if missing:
        raise RuntimeError(
            "Channels are missing what they need: "
            + "; ".join(missing)
            + f". Enabled: {', '.join(sorted(channels)) or 'none'}; add the missing ones to "
            "CHANNELS (or install them)."
        )


def _wire(app: Flask, channel: Channel) -> None:
    for blueprint in channel.blueprints:
        app.register_blueprint(blueprint)
    if channel.cli is not None:
        app.cli.add_command(channel.cli)
    for signal, receiver in channel.subscriptions:
        signal.connect(receiver, sender=app, weak=False)
    from app import jobs

    for job in channel.periodic_jobs:
        jobs.register_periodic(app, job)
    if channel.setup is not None:
        channel.setup(app)


def channels_of(app: Flask) -> dict[str, Channel]:
    channels: dict[str, Channel] = app.extensions.get("decant_channels", {})
    return channels


def nav_entries(app: Flask, role: str | None) -> list[NavEntry]:
    entries = [*app.extensions.get("decant_core_nav", ())]  # the core's own pages
    entries += [e for c in channels_of(app).values() for e in c.nav]
    return sorted((e for e in entries if role in e.roles), key=lambda e: (e.order, e.label))


def activity_types(app: Flask) -> tuple[str, ...]:
    """Every activity type: the core's own, then those the enabled channels declare."""
    from app.crm.models import ACTIVITY_TYPES

    extra = [t for c in channels_of(app).values() for t in c.activity_types]
    return tuple(dict.fromkeys([*ACTIVITY_TYPES, *extra]))


def version_locations(app: Flask) -> list[str]:
    """The enabled channels' own Alembic version folders."""
    return [c.migrations for c in channels_of(app).values() if c.migrations]


def configure_alembic(config: Any) -> Any:
    """Flask-Migrate hook: the core's versions plus each enabled channel's folder, so
    ``flask db upgrade heads`` applies every channel's branch."""
    extra = version_locations(current_app)
    if extra:
        core = os.path.join(config.get_main_option("script_location"), "versions")
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join([core, *extra]))
    return config


def settings_of(app: Flask) -> list[tuple[str, Setting]]:
    """(channel name, setting) for every setting an enabled channel declares."""
    return [(name, s) for name, c in channels_of(app).items() for s in c.settings]
