"""RQ job functions: they take ids, re-read state and are safe to run twice."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from blueprints.mailchimp import campaigns, imports, sync
from blueprints.mailchimp.client import client_for, get_connection, with_retries
from blueprints.mailchimp.models import MailchimpSync
from providers.errors import NotFoundError

log = logging.getLogger(__name__)


def run_sync(sync_id: int) -> None:
    """Sync one CRM list with its audience (resumes from the cursor)."""
    sync.run(sync_id)


def run_due_syncs() -> int:
    """Periodic: start every sync whose frequency says it is due, and resume interrupted ones."""
    due = sync.due_syncs()
    for item in due:
        sync.start(item)
    return len(due)


def run_import(import_id: int) -> None:
    """Import an audience's members into a CRM list (page by page, with progress)."""
    imports.run(import_id)


def pull_report(campaign_id: int) -> None:
    campaigns.pull_report(campaign_id)


def refresh_reports() -> int:
    """Periodic: pull analytics of campaigns sent in the last MAILCHIMP_REPORT_DAYS."""
    days = int(current_app.config["MAILCHIMP_REPORT_DAYS"])
    items = campaigns.campaigns_to_refresh(days)
    for item in items:
        try:
            campaigns.pull_report(item.id)
        except Exception:  # one campaign must not stop the others
            db.session.rollback()
            log.exception("Mailchimp report pull failed for campaign %s", item.public_id)
    return len(items)


def push_opt_out(address: str) -> int:
    """Unsubscribe an address in every synced audience where it is a member."""
    conn = get_connection()
    if conn is None:
        return 0
    client = client_for(conn)
    audiences = set(db.session.scalars(select(MailchimpSync.audience_id)))
    done = 0
    for audience_id in sorted(audiences):
        try:
            with_retries(client.set_member_status, audience_id, address, "unsubscribed")
            done += 1
        except NotFoundError:
            continue  # not a member there (or the audience is gone)
    return done
