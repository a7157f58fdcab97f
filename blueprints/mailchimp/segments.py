"""A synced CRM list as a static segment (a tag) of its audience.

A Mailchimp campaign to ``list_id`` alone goes to the whole audience: strangers who
signed up there and customers synced from other lists. So each campaign targets the
segment ``Decant list <list id>`` (``recipients.segment_opts.saved_segment_id``), and the
segment is set to the list's current, contactable members right before the campaign is
created, sent or scheduled: only the differences are sent, 500 addresses a call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from app.crm.models import Customer
from app.extensions import db
from app.messaging import audiences, consent
from blueprints.mailchimp.client import with_retries
from blueprints.mailchimp.models import MailchimpSync
from providers import mailchimp as mc

if TYPE_CHECKING:
    from app.auth.models import User

SEGMENT_PREFIX = "Decant list "


@dataclass(frozen=True)
class Recipients:
    """Who a campaign to the list's segment can reach.

    ``listed``: list members with an address who may be emailed; ``in_segment``: those
    who are members of the audience (the rest were never synced: run the sync).
    Mailchimp itself still skips its unsubscribed and cleaned members.
    """

    segment_id: str
    listed: int
    in_segment: int
    not_in_audience: int
    added: int
    removed: int

    def json(self) -> dict[str, Any]:
        return {
            "segmentId": self.segment_id,
            "listed": self.listed,
            "inSegment": self.in_segment,
            "notInAudience": self.not_in_audience,
            "added": self.added,
            "removed": self.removed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recipients:
        return cls(
            segment_id=str(data.get("segmentId", "")),
            listed=int(data.get("listed", 0)),
            in_segment=int(data.get("inSegment", 0)),
            not_in_audience=int(data.get("notInAudience", 0)),
            added=int(data.get("added", 0)),
            removed=int(data.get("removed", 0)),
        )


def segment_name(sync: MailchimpSync) -> str:
    return f"{SEGMENT_PREFIX}{sync.list_ref}"


def list_addresses(sync: MailchimpSync, user: User) -> set[str]:
    """Lower-cased addresses of the list's members who may be emailed now."""
    ids = audiences.resolve("list", sync.list_ref, user)
    ids_subquery = ids.scalar_subquery() if hasattr(ids, "scalar_subquery") else ids
    rows = db.session.scalars(
        select(func.lower(func.trim(Customer.email))).where(
            Customer.id.in_(ids_subquery), consent.contactable_clause("email")
        )
    )
    return {email for email in rows if email}


def find(client: mc.MailchimpClient, sync: MailchimpSync) -> mc.Segment | None:
    name = segment_name(sync)
    for segment in with_retries(client.static_segments, sync.audience_id):
        if segment.name == name:
            return segment
    return None


def refresh(
    client: mc.MailchimpClient, sync: MailchimpSync, user: User, *, create: bool = True
) -> Recipients | None:
    """Make the list's segment hold exactly the list's contactable members (None when
    there is no segment and ``create`` is false)."""
    segment = find(client, sync)
    if segment is None:
        if not create:
            return None
        segment = client.create_static_segment(sync.audience_id, segment_name(sync))
    wanted = list_addresses(sync, user)
    current = {
        email.strip().lower()
        for email in with_retries(
            lambda: list(client.iter_segment_members(sync.audience_id, segment.id))
        )
    }
    change = mc.SegmentChange()
    for part in mc.chunked(sorted(current - wanted)):
        done = with_retries(client.update_segment_members, sync.audience_id, segment.id, (), part)
        change.removed += done.removed
    missing = 0
    for part in mc.chunked(sorted(wanted - current)):
        done = with_retries(client.update_segment_members, sync.audience_id, segment.id, part)
        change.added += done.added
        missing += sum(len(emails) for emails, _ in done.errors)
    return Recipients(
        segment_id=segment.id,
        listed=len(wanted),
        in_segment=len(wanted) - missing,
        not_in_audience=missing,
        added=change.added,
        removed=change.removed,
    )


def segment_opts(recipients: Recipients) -> dict[str, Any]:
    """``recipients.segment_opts`` of a campaign to the segment (its id is an integer)."""
    return {"saved_segment_id": int(recipients.segment_id)}
