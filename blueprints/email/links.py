"""Click links stored when a message is prepared, and resolved from there on a click.

A tracked link is ``/email/t/c/<message's tracking token>/<number>``. A campaign's links
are numbered once for the campaign (every message of it shares them); a message rendered
on its own (a single send, or a campaign message whose template must be rendered per
recipient) has its own numbers. Both are :class:`EmailLink` rows, written before the
message goes to the provider.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence

from flask import current_app
from sqlalchemy import insert, or_, select
from sqlalchemy.exc import IntegrityError

from app.attribution import utm
from app.extensions import db
from app.messaging import rendering
from app.messaging.models import Campaign
from blueprints.email import tracking
from blueprints.email.models import EmailLink, EmailMessage


def campaign_numbers(campaign_id: int, urls: Sequence[str]) -> list[int]:
    """The numbers of ``urls`` among the campaign's stored links, storing (and committing)
    those it lacks: a campaign keeps a URL's number for good, even if its HTML changes.
    What is stored is the destination as sent, UTM parameters added
    (:func:`campaign_destinations`)."""
    destinations = campaign_destinations(campaign_id, urls)
    for attempt in range(3):
        stored = {
            url: number
            for number, url in db.session.execute(
                select(EmailLink.number, EmailLink.url).where(EmailLink.campaign_id == campaign_id)
            )
        }
        missing = [url for url in dict.fromkeys(destinations) if url not in stored]
        if not missing:
            return [stored[url] for url in destinations]
        if attempt == 2:
            break
        after = max(stored.values(), default=-1) + 1
        rows = [
            {"campaign_id": campaign_id, "number": after + k, "url": url}
            for k, url in enumerate(missing)
        ]
        try:
            db.session.execute(insert(EmailLink), rows)
            db.session.commit()
        except IntegrityError:  # another worker stored them first: read theirs
            db.session.rollback()
            if attempt:
                raise
    raise RuntimeError(f"campaign {campaign_id}'s links could not be stored")


def campaign_destinations(campaign_id: int, urls: Sequence[str]) -> list[str]:
    """Where a campaign's links send the reader: each http(s) URL with the campaign's UTM
    parameters it lacks (:mod:`app.attribution.utm`)."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        return list(urls)
    return utm.tag_campaign_links(urls, campaign.public_id, "email")


def store_message_links(links: Mapping[int, Sequence[str]]) -> None:
    """Store each message's own links (message id to its URLs, in number order), unless
    the message has some already (a retried send keeps its first numbers). Not
    committed."""
    wanted = {message_id: urls for message_id, urls in links.items() if urls}
    if not wanted:
        return
    stored = set(
        db.session.scalars(
            select(EmailLink.message_id).where(EmailLink.message_id.in_(list(wanted)))
        )
    )
    rows = [
        {"message_id": message_id, "number": number, "url": url}
        for message_id, urls in wanted.items()
        if message_id not in stored
        for number, url in enumerate(urls)
    ]
    if rows:
        db.session.execute(insert(EmailLink), rows)


def resolve(message: EmailMessage, number: int) -> str | None:
    """The URL behind link ``number`` of ``message``: its own stored link, else its
    campaign's; for a campaign prepared before links were stored (none stored), the
    link its template numbers so (:func:`legacy_campaign_link`)."""
    return resolve_by_id(message.id, message.campaign_id, number)


def resolve_by_id(message_id: int, campaign_id: int | None, number: int) -> str | None:
    """:func:`resolve` for a message known by its id and its campaign's."""
    if not 0 <= number < 2**31:  # the number column is a 32-bit integer on PostgreSQL
        return None
    mine = EmailLink.message_id == message_id
    if campaign_id is not None:  # its own link or its campaign's, in one query
        mine = or_(mine, EmailLink.campaign_id == campaign_id)
    found = db.session.execute(
        select(EmailLink.url, EmailLink.message_id).where(mine, EmailLink.number == number)
    ).all()
    own = next((url for url, owner in found if owner is not None), None)
    if own is not None or campaign_id is None:
        return own
    if found:
        return str(found[0].url)
    stored = db.session.scalar(
        select(EmailLink.id).where(EmailLink.campaign_id == campaign_id).limit(1)
    )
    if stored is not None:
        return None
    return legacy_campaign_link(campaign_id, number)


def legacy_campaign_link(campaign_id: int, number: int) -> str | None:
    """Link ``number`` of a campaign's HTML as campaigns prepared before revision 0023
    numbered them (not stored then): its http(s) links but our own, in order, after CSS
    inlining."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.html:
        return None
    body = campaign.html
    if "<style" in body.lower():
        body = rendering.inline_css(body)
    own = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/email/"
    urls = [html_lib.unescape(m.group(3)) for m in tracking.HREF.finditer(body)]
    links = [url for url in urls if not url.startswith(own)]
    return links[number] if number < len(links) else None
