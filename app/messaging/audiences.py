"""The audience registry: how a channel turns ``{"listId": ...}`` into recipients.

A channel that owns audiences (the lists channel) registers a resolver under a name
(``list``); email, SMS and Mailchimp ask for ``resolve("list", list_id, user)`` and get a
SELECT of customer ids they can stream, so none of them imports the lists channel and a
recipient set never loads whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from app.crm.models import Customer
from app.errors import invalid

if TYPE_CHECKING:
    from app.auth.models import User


@dataclass(frozen=True)
class AudienceResolver:
    name: str
    #: (reference, acting user) -> SELECT of customer ids, already scoped to the user;
    #: raises LookupError when the reference is unknown or hidden from that user.
    customer_ids: Callable[[str, Any], Select[Any]]
    #: (reference, acting user) -> a short label for pages ("Spring tasting (212)").
    describe: Callable[[str, Any], str] | None = None
    #: (reference, customer public ids, acting user) -> how many were added; for
    #: channels that fill an audience (Mailchimp import). LookupError when unknown.
    add_members: Callable[[str, Sequence[str], Any], int] | None = None
    #: (reference, customer public ids, acting user) -> how many were removed (flows'
    #: "remove from a list" step). LookupError when unknown.
    remove_members: Callable[[str, Sequence[str], Any], int] | None = None
    #: (acting user) -> [(reference, label)] the user may pick from (campaign forms).
    choices: Callable[[Any], list[tuple[str, str]]] | None = None
    #: (acting user) -> [(reference, label)] the user may add customers to (the customers
    #: table's "add the selection to a list").
    writable_choices: Callable[[Any], list[tuple[str, str]]] | None = None
    #: (reference) -> the id of the email topic the audience is about, or None; a campaign
    #: to it skips addresses that left the topic (app.messaging.topics).
    topic_of: Callable[[str], int | None] | None = None
    #: (reference) -> the audience's sunset policy (app.engagement.sunset.SunsetPolicy),
    #: or None for the default: email campaigns skip sunset customers
    sunset_policy_of: Callable[[str], Any] | None = None
    #: (name, criteria JSON, acting user) -> the reference of a new smart audience (the
    #: sunset report's re-permission campaign); LookupError/ValueError when refused
    create_smart: Callable[[str, dict[str, Any], Any], str] | None = None


def register(app: Flask, resolver: AudienceResolver) -> None:
    app.extensions.setdefault("decant_audiences", {})[resolver.name] = resolver


def resolvers(app: Flask | None = None) -> dict[str, AudienceResolver]:
    found: dict[str, AudienceResolver] = (app or current_app).extensions.get("decant_audiences", {})
    return found


def resolve(name: str, reference: str, user: User, field: str = "listId") -> Select[Any]:
    """Customer ids of an audience, or a 422 naming ``field`` when it is unknown or hidden."""
    resolver = resolvers().get(name)
    if resolver is None:
        raise invalid({field: f"no {name} audiences are enabled"})
    try:
        return without_archived(resolver.customer_ids(reference, user))
    except LookupError as exc:
        raise invalid({field: str(exc) or f"unknown {name}"}) from exc


def without_archived(customer_ids: Select[Any]) -> Select[Any]:
    """Archived customers (kept for history, gone from the CRM) leave every audience. An
    alias, so a caller's ``Customer.id.in_(...)`` does not correlate with it."""
    live = aliased(Customer)
    return select(live.id).where(live.id.in_(customer_ids), live.archived.is_(False))


def add_members(
    name: str, reference: str, customer_ids: Sequence[str], user: User, field: str = "listId"
) -> int:
    """Add customers to an audience through its owner channel, or a 422 naming ``field``."""
    resolver = resolvers().get(name)
    if resolver is None or resolver.add_members is None:
        raise invalid({field: f"{name} audiences cannot be added to here"})
    try:
        return resolver.add_members(reference, customer_ids, user)
    except LookupError as exc:
        raise invalid({field: str(exc) or f"unknown {name}"}) from exc


def choices(name: str, user: User) -> list[tuple[str, str]]:
    """The audiences of one kind ``user`` may send to, for a page's picker."""
    resolver = resolvers().get(name)
    if resolver is None or resolver.choices is None:
        return []
    return resolver.choices(user)


def writable_choices(name: str, user: Any) -> list[tuple[str, str]]:
    """The audiences of one kind ``user`` may add customers to (manual lists)."""
    resolver = resolvers().get(name)
    if resolver is None or resolver.writable_choices is None:
        return []
    return resolver.writable_choices(user)


def create_smart(name: str, label: str, criteria: dict[str, Any], user: User) -> str:
    """A new smart audience of one kind (its reference), through its owner channel."""
    resolver = resolvers().get(name)
    if resolver is None or resolver.create_smart is None:
        raise LookupError(f"no {name} audiences can be created here")
    return resolver.create_smart(label, criteria, user)


def topic_of(name: str, reference: str | None) -> int | None:
    """The topic an audience is tied to (None when none, or unknown)."""
    resolver = resolvers().get(name)
    if resolver is None or resolver.topic_of is None or not reference:
        return None
    return resolver.topic_of(reference)
