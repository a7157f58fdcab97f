"""Audience sync, both ways, resumable from a cursor.

Order of a run: pull Mailchimp's unsubscribed and cleaned members into CRM suppressions
first (so a push never resubscribes anyone), then push the CRM list in customer-id order,
500 members per call, committing ``cursor`` and progress after each call. A run that is
interrupted (retries exhausted, worker killed) resumes after ``cursor``: the batch in
flight may be sent twice, which the upsert makes harmless; no member is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app import jobs
from app.auth.models import User
from app.crm.models import Consent, Customer
from app.errors import DomainError
from app.extensions import db
from app.messaging import audiences, consent
from app.messaging.models import Suppression, Template
from app.models_base import utcnow
from blueprints.mailchimp import merge, segments
from blueprints.mailchimp.client import client_for, get_connection, with_retries
from blueprints.mailchimp.models import MailchimpSync, MailchimpUnlinkedMember
from providers import mailchimp as mc
from providers.errors import AuthenticationError, NotFoundError, ProviderError, TransientError

PULL_STATUSES = (("unsubscribed", "unsubscribe"), ("cleaned", "bounce"))
MAX_ERROR_SAMPLES = 20


# --------------------------------------------------------------------------- starting


def start(sync: MailchimpSync) -> jobs.JobHandle:
    """Queue a run on the ``sync`` queue (inline without Redis); the sync keeps its job id."""
    job_id = f"mailchimp-sync-{sync.public_id}-{uuid.uuid4().hex[:8]}"
    sync.job_id = job_id
    if sync.status != "running":
        sync.status = "queued"
    sync.heartbeat_at = utcnow()
    db.session.commit()
    return jobs.enqueue("blueprints.mailchimp.jobs:run_sync", sync.id, queue="sync", job_id=job_id)


def due_syncs(now: Any = None) -> list[MailchimpSync]:
    """Syncs with a frequency whose time has come, plus interrupted ones and runs whose
    worker died (running or queued, silent for MAILCHIMP_SYNC_STALE_SECONDS), to resume."""
    now = now or utcnow()
    stale = now - timedelta(seconds=int(current_app.config["MAILCHIMP_SYNC_STALE_SECONDS"]))
    due = []
    for sync in db.session.scalars(select(MailchimpSync).order_by(MailchimpSync.id)):
        if sync.status in ("running", "queued"):
            if sync.heartbeat_at is None or sync.heartbeat_at < stale:
                due.append(sync)
            continue
        if sync.status == "interrupted":
            due.append(sync)
            continue
        if not sync.frequency_seconds:
            continue
        last = sync.last_synced_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or last + timedelta(seconds=sync.frequency_seconds) <= now:
            due.append(sync)
    return due


# --------------------------------------------------------------------------- a run


def run(sync_id: int) -> MailchimpSync | None:
    """One sync run; errors end up on the sync (status + message), never as a crash.

    A TransientError still failing after the bounded retries marks the sync
    ``interrupted`` and is re-raised, so RQ's own retry (or the periodic job) resumes it.
    """
    sync = db.session.get(MailchimpSync, sync_id)
    if sync is None:
        return None
    conn = get_connection()
    if conn is None:
        return _fail(sync, "Mailchimp is not connected.")
    user = db.session.get(User, sync.created_by_id) if sync.created_by_id else None
    if user is None:
        return _fail(sync, "The user who set up this sync no longer exists; set it up again.")
    if sync.cursor == 0:
        sync.progress_done = 0
        sync.stats = {k: v for k, v in (sync.stats or {}).items() if k.startswith("webhook")}
    sync.status = "running"
    sync.last_error = None
    sync.heartbeat_at = utcnow()
    db.session.commit()
    client = client_for(conn)
    try:
        ids = audiences.resolve("list", sync.list_ref, user)
        _bump(sync, pull_suppressions(client, sync.audience_id))
        _push(client, sync, ids, audience_fields(client, sync.audience_id))
        # a campaign made earlier (maybe scheduled) goes to the list as it is now
        recipients = segments.refresh(client, sync, user, create=False)
        if recipients is not None:
            sync.stats = {**(sync.stats or {}), "segment": recipients.json()}
    except NotFoundError:
        return _fail(
            sync,
            f"Mailchimp audience {sync.audience_name or ''} ({sync.audience_id}) was not "
            "found: it may have been deleted. Choose another audience.",
        )
    except AuthenticationError as exc:
        conn = get_connection()
        if conn is not None:
            conn.last_error = f"Mailchimp refused the credentials: {exc}"
        return _fail(sync, f"Mailchimp refused the credentials: {exc}")
    except DomainError as exc:
        return _fail(sync, f"CRM list {sync.list_ref}: {exc.fields or exc.message}")
    except TransientError as exc:
        sync = db.session.merge(sync)
        sync.status = "interrupted"
        sync.last_error = f"Interrupted (will resume from where it stopped): {exc}"
        db.session.commit()
        raise
    except ProviderError as exc:
        return _fail(sync, str(exc))
    sync.status = "done"
    sync.cursor = 0
    sync.last_synced_at = utcnow()
    conn = get_connection()
    if conn is not None:
        conn.last_sync_at = sync.last_synced_at
        conn.last_error = None
    db.session.commit()
    return sync


def _fail(sync: MailchimpSync, message: str) -> MailchimpSync:
    db.session.rollback()
    sync = db.session.merge(sync)
    sync.status = "error"
    sync.last_error = message[:2000]
    db.session.commit()
    return sync


def _bump(sync: MailchimpSync, counts: dict[str, int]) -> None:
    stats = dict(sync.stats or {})
    for key, value in counts.items():
        stats[key] = int(stats.get(key, 0)) + value
    sync.stats = stats


# --------------------------------------------------------------------------- pull


def pull_suppressions(client: mc.MailchimpClient, audience_id: str) -> dict[str, int]:
    """Suppress in the CRM every address Mailchimp has as unsubscribed or cleaned."""

    def one_pass() -> dict[str, int]:
        counts = {"pulledUnsubscribed": 0, "pulledCleaned": 0}
        for status, reason in PULL_STATUSES:
            for member in client.iter_members(audience_id, status=status):
                if consent.is_suppressed("email", member.email):
                    continue
                consent.opt_out(
                    "email",
                    member.email,
                    reason=reason,
                    source="mailchimp",
                    detail=f"{status} in Mailchimp audience {audience_id}",
                )
                key = "pulledUnsubscribed" if status == "unsubscribed" else "pulledCleaned"
                counts[key] += 1
        return counts

    return with_retries(one_pass)


# --------------------------------------------------------------------------- push


def merge_fields(customer: Customer, tags: dict[str, str]) -> dict[str, Any]:
    """FNAME, TERRITORY, REP, LASTORDER (ISO date) and the mapped custom fields of one
    customer; ``tags`` is what :func:`merge.ensure_merge_fields` made sure exists."""
    return merge.member_values(merge.customer_values(customer), tags)


def audience_fields(client: mc.MailchimpClient, audience_id: str) -> dict[str, str]:
    """Create the merge fields a push fills: the core ones and every custom field an email
    template uses (so any campaign made from a template finds its values)."""
    rows = db.session.execute(
        select(Template.subject, Template.html).where(Template.type == "email")
    )
    keys = merge.custom_keys((subject, html) for subject, html in rows)
    return with_retries(merge.ensure_merge_fields, client, audience_id, keys)


def crm_tags(customer: Customer) -> list[str]:
    """CRM-side tags: ``custom_fields["tags"]`` plus the engaged tag when set."""
    fields = customer.custom_fields or {}
    raw = fields.get("tags")
    tags = [str(t) for t in raw if str(t).strip()] if isinstance(raw, list) else []
    engaged = current_app.config["MAILCHIMP_ENGAGED_TAG"]
    if fields.get(engaged) is True and engaged not in tags:
        tags.append(engaged)
    return tags


def _blocked(customers: list[Customer]) -> set[int]:
    """Ids of customers who must be unsubscribed in Mailchimp (suppressed or opted out)."""
    emails = {c.email.strip().lower() for c in customers if c.email}
    suppressed = set(
        db.session.scalars(
            select(Suppression.address).where(
                Suppression.channel == "email", Suppression.address.in_(emails)
            )
        )
    )
    opted_out = set(
        db.session.scalars(
            select(Consent.address).where(
                Consent.channel == "email",
                Consent.address.in_(emails),
                Consent.status == "opted_out",
            )
        )
    )
    blocked = suppressed | opted_out
    return {c.id for c in customers if (c.email or "").strip().lower() in blocked}


def _push(
    client: mc.MailchimpClient, sync: MailchimpSync, ids: Any, fields: dict[str, str]
) -> None:
    ids_subquery = ids.scalar_subquery() if hasattr(ids, "scalar_subquery") else ids
    sync.progress_total = (
        db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.id.in_(ids_subquery))
        )
        or 0
    )
    if sync.cursor:
        sync.progress_done = (
            db.session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.id.in_(ids_subquery), Customer.id <= sync.cursor)
            )
            or 0
        )
    db.session.commit()
    while True:
        batch = list(
            db.session.scalars(
                select(Customer)
                .where(Customer.id.in_(ids_subquery), Customer.id > sync.cursor)
                .order_by(Customer.id)
                .limit(mc.MAX_BATCH)
            ).unique()
        )
        if not batch:
            return
        _push_batch(client, sync, batch, fields)
        sync.cursor = batch[-1].id
        sync.progress_done += len(batch)
        sync.heartbeat_at = utcnow()
        db.session.commit()


def _unlinked(audience_id: str, customers: list[Customer]) -> set[str]:
    """Lower-cased addresses among ``customers`` that a Mailchimp admin deleted from
    this audience (the sync must not add them back)."""
    emails = {c.email.strip().lower() for c in customers if c.email}
    return set(
        db.session.scalars(
            select(MailchimpUnlinkedMember.email).where(
                MailchimpUnlinkedMember.audience_id == audience_id,
                MailchimpUnlinkedMember.email.in_(emails),
            )
        )
    )


def _push_batch(
    client: mc.MailchimpClient,
    sync: MailchimpSync,
    batch: list[Customer],
    fields: dict[str, str],
) -> None:
    blocked = _blocked(batch)
    unlinked = _unlinked(sync.audience_id, batch)
    upserts: list[mc.MemberUpsert] = []
    tagged: list[tuple[str, list[str]]] = []
    for customer in batch:
        if not customer.email or customer.email.strip().lower() in unlinked:
            continue
        status = "unsubscribed" if customer.id in blocked else "subscribed"
        upserts.append(mc.MemberUpsert(customer.email, status, merge_fields(customer, fields)))
        tags = crm_tags(customer)
        if tags:
            tagged.append((customer.email, tags))
    result = with_retries(client.batch_upsert_members, sync.audience_id, upserts)
    for email, tags in tagged:
        try:
            with_retries(client.update_member_tags, sync.audience_id, email, tags)
        except NotFoundError:
            continue  # the member was refused by the batch: reported below
    counts = {
        "pushed": len(upserts),
        "new": result.new,
        "updated": result.updated,
        "unsubscribedPushed": sum(1 for u in upserts if u.status == "unsubscribed"),
        "skippedNoEmail": sum(1 for c in batch if not c.email),
        "skippedUnlinked": len(unlinked),
        "errors": len(result.errors),
        "tagged": len(tagged),
    }
    _bump(sync, counts)
    samples = list((sync.stats or {}).get("errorSamples", []))
    for email, code, message in result.errors:
        if "compliance" in message.lower():
            consent.opt_out("email", email, reason="unsubscribe", source="mailchimp")
        if len(samples) < MAX_ERROR_SAMPLES:
            samples.append({"email": email, "code": code, "message": message[:200]})
    if samples:
        sync.stats = {**sync.stats, "errorSamples": samples}


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class MatchedPage:
    """One page of an audience's subscribed members: the customers they are, by public id
    (visible to the user), and the addresses that are nobody's."""

    customer_ids: list[str]
    unmatched: list[str]
    members: int


def matched_pages(
    client: mc.MailchimpClient, audience_id: str, user: User, page_size: int = 500
) -> Iterator[MatchedPage]:
    """Match an audience's subscribed members to CRM customers by email, page by page."""
    from app.crm.scoping import customer_filter

    clause = customer_filter(user)
    page: list[str] = []

    def match() -> MatchedPage:
        stmt = select(func.lower(Customer.email), Customer.public_id).where(
            func.lower(Customer.email).in_(page)
        )
        if clause is not None:
            stmt = stmt.where(clause)
        found: dict[str, list[str]] = {}
        for email, public_id in db.session.execute(stmt):
            found.setdefault(email, []).append(public_id)
        ids = [public_id for email in page for public_id in found.get(email, [])]
        return MatchedPage(ids, [e for e in page if e not in found], len(page))

    for member in client.iter_members(audience_id, status="subscribed"):
        page.append(member.email.strip().lower())
        if len(page) >= page_size:
            yield match()
            page = []
    if page:
        yield match()


def match_audience(client: mc.MailchimpClient, audience_id: str, user: User) -> dict[str, Any]:
    """Match an audience's subscribed members to CRM customers visible to ``user`` by email.

    Returns matched customer public ids and unmatched addresses (the first 1,000 listed,
    all counted). Writing them into a CRM list is the lists channel's job (its
    ``POST /lists/<id>/members`` takes ``customerIds``).
    """
    matched: list[str] = []
    unmatched: list[str] = []
    unmatched_total = 0
    for page in matched_pages(client, audience_id, user):
        matched += page.customer_ids
        unmatched_total += len(page.unmatched)
        unmatched += page.unmatched[: max(0, 1000 - len(unmatched))]
    return {
        "audienceId": audience_id,
        "customerIds": matched,
        "matched": len(matched),
        "unmatched": unmatched_total,
        "unmatchedEmails": unmatched,
    }
