"""The channel registry: how the core finds and wires plug-in channels.

A channel is a package exposing a :class:`Channel` through the entry-point group
``decant.channels`` (see pyproject.toml). The core loads only the channels named in the
``CHANNELS`` setting (``all`` by default), registers their blueprints, CLI group, periodic
jobs and signal receivers, and builds the navigation from their nav entries. The core never
imports a channel by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import click
from blinker import Signal
from flask import Blueprint, Flask

ENTRY_POINT_GROUP = "decant.channels"
ALL_ROLES = ("admin", "manager", "rep")


@dataclass(frozen=True)
class NavEntry:
    """A link in the top navigation, shown to the given roles."""

    label: str
    endpoint: str
    roles: tuple[str, ...] = ALL_ROLES
    order: int = 50


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
    seed: Callable[[], None] | None = None
    #: Public endpoints (no login): webhooks, tracking, unsubscribe.
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


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
        _wire(app, channel)
    app.extensions["decant_channels"] = channels


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
    return app.extensions.get("decant_channels", {})


def nav_entries(app: Flask, role: str | None) -> list[NavEntry]:
    entries = [e for c in channels_of(app).values() for e in c.nav]
    return sorted((e for e in entries if role in e.roles), key=lambda e: (e.order, e.label))
