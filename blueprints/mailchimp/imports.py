"""Import an audience into a CRM list from the page: a job with progress and a result.

Each page of 500 subscribed members is matched to customers by email and the matches
are added to the list through the audience registry (the lists channel owns its tables),
with the counts committed after every page so the page can show progress.
"""

from __future__ import annotations

from sqlalchemy import select

from app import jobs
from app.auth.models import User
from app.errors import DomainError, invalid
from app.extensions import db
from app.messaging import audiences
from app.models_base import utcnow
from blueprints.mailchimp import services, sync
from blueprints.mailchimp.client import client_for, get_connection
from blueprints.mailchimp.models import MailchimpImport
from providers.errors import NotFoundError, ProviderError

SAMPLE = 200  # unmatched addresses kept to show


def start(user: User, audience_id: str, list_ref: str) -> MailchimpImport:
    """Check the audience and the list, then queue the import (inline without Redis)."""
    audiences.resolve("list", list_ref, user)  # 422 naming listId when unknown or hidden
    known = {a.id: a for a in services.list_audiences()}
    if audience_id not in known:
        raise invalid({"audienceId": "no such Mailchimp audience"})
    item = MailchimpImport(
        audience_id=audience_id,
        audience_name=known[audience_id].name,
        list_ref=list_ref,
        status="queued",
        progress_total=known[audience_id].member_count,
        unmatched_sample=[],
        created_by_id=user.id,
    )
    db.session.add(item)
    db.session.commit()
    jobs.enqueue("blueprints.mailchimp.jobs:run_import", item.id, queue="sync")
    db.session.refresh(item)
    return item


def run(import_id: int) -> MailchimpImport | None:
    """Match and add page by page; failures end on the row, never as a crash."""
    item = db.session.get(MailchimpImport, import_id)
    if item is None or item.status in ("done", "error"):
        return item
    conn = get_connection()
    user = db.session.get(User, item.created_by_id) if item.created_by_id else None
    if conn is None or user is None:
        return _fail(item, "Mailchimp is not connected." if conn is None else "No such user.")
    item.status, item.progress_done = "running", 0
    item.matched = item.added = item.unmatched = 0
    item.unmatched_sample = []
    db.session.commit()
    client = client_for(conn)
    try:
        for page in sync.matched_pages(client, item.audience_id, user):
            _apply(item, page, user)
    except NotFoundError:
        return _fail(item, f"Mailchimp audience {item.audience_id} was not found.")
    except DomainError as exc:
        return _fail(item, f"CRM list {item.list_ref}: {exc.fields or exc.message}")
    except ProviderError as exc:  # what was added stays; running it again adds the rest
        return _fail(item, f"Mailchimp: {exc}. Run the import again to finish it.")
    item.status = "done"
    item.progress_total = max(item.progress_total, item.progress_done)
    item.finished_at = utcnow()
    db.session.commit()
    return item


def _apply(item: MailchimpImport, page: sync.MatchedPage, user: User) -> None:
    if page.customer_ids:
        item.added += audiences.add_members("list", item.list_ref, page.customer_ids, user)
    item.matched += len(page.customer_ids)
    item.unmatched += len(page.unmatched)
    room = SAMPLE - len(item.unmatched_sample)
    if room > 0 and page.unmatched:
        item.unmatched_sample = [*item.unmatched_sample, *page.unmatched[:room]]
    item.progress_done += page.members
    db.session.commit()


def _fail(item: MailchimpImport, message: str) -> MailchimpImport:
    db.session.rollback()
    item = db.session.merge(item)
    item.status = "error"
    item.last_error = message[:2000]
    item.finished_at = utcnow()
    db.session.commit()
    return item


def recent(limit: int = 20) -> list[MailchimpImport]:
    return list(
        db.session.scalars(select(MailchimpImport).order_by(MailchimpImport.id.desc()).limit(limit))
    )
