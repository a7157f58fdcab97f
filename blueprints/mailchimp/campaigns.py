"""Mailchimp campaigns from Decant templates, and their analytics pulled back.

Per-recipient results become one "Email Campaign" activity per customer (opens, clicks and
bounce in its notes, with a ``[mailchimp:<campaign id>]`` marker so a re-pull updates it
instead of adding another). A customer who opened or clicked is tagged with
MAILCHIMP_ENGAGED_TAG in Mailchimp and ``custom_fields[<tag>] = True`` in the CRM (a plain
boolean custom field, so smart lists and templates can use it).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import func, select

from app.crm.models import Activity, Customer
from app.errors import Conflict, ProviderFailed, invalid
from app.extensions import db
from app.messaging.models import Template
from app.messaging.templates import check_email_parts
from app.models_base import utcnow
from blueprints.mailchimp import merge, segments
from blueprints.mailchimp.client import client_for, get_connection, with_retries
from blueprints.mailchimp.models import MailchimpCampaign, MailchimpSync
from blueprints.mailchimp.services import require_client
from providers import mailchimp as mc
from providers.errors import NotFoundError, ProviderError

if TYPE_CHECKING:
    from app.auth.models import User

UNSUB_FOOTER = '<p style="font-size:12px"><a href="*|UNSUB|*">Unsubscribe</a></p>'
MAX_SUBJECT = 300  # MailchimpCampaign.subject
#: The tags of campaigns made before the mapping was recorded on the campaign.
_LEGACY_TAGS = {t: f.tag for t, f in merge.CORE_FIELDS.items()}


def marker(campaign: MailchimpCampaign) -> str:
    return f"[mailchimp:{campaign.public_id}]"


def get_campaign(public_id: str) -> MailchimpCampaign | None:
    return db.session.scalar(
        select(MailchimpCampaign).where(MailchimpCampaign.public_id == public_id)
    )


def content_from_template(
    template: Template, tags: dict[str, str], subject: str | None = None
) -> tuple[str, str]:
    """(subject, html) with tokens turned into merge tags and an unsubscribe link;
    ``subject`` (Decant tokens allowed) replaces the template's."""
    source = subject or template.subject or template.name
    rendered_subject = " ".join(merge.to_merge_tags(source, tags, html=False).split())
    html = merge.to_merge_tags(template.html or "", tags, html=True)
    if "*|UNSUB|*" not in html:
        html += UNSUB_FOOTER
    return rendered_subject, html


def display_subject(campaign: MailchimpCampaign) -> str:
    """The subject for a page: merge tags as readable placeholders."""
    return merge.preview(campaign.subject)


def recipient_subject(campaign: MailchimpCampaign, customer: Customer) -> str:
    """The subject this customer got: Mailchimp's merge tags filled with what the sync
    pushed for them."""
    tags = (campaign.report or {}).get("mergeTags") or dict(_LEGACY_TAGS)
    values = merge.member_values(merge.customer_values(customer), tags)
    return merge.fill(campaign.subject, values, merge.defaults())


def _recipients_or_422(
    client: mc.MailchimpClient, sync: MailchimpSync, user: User
) -> segments.Recipients:
    """Point the list's segment at its current members; 422 when nobody is reachable."""
    recipients = segments.refresh(client, sync, user)
    assert recipients is not None  # created when missing
    if recipients.in_segment == 0:
        if recipients.listed == 0:
            reason = "the list has no member with an email address who may be emailed"
        else:
            reason = (
                f"none of the list's {recipients.listed} contactable members is in the "
                "Mailchimp audience yet: run the sync first"
            )
        raise invalid({"syncId": f"No recipients: {reason}."})
    return recipients


def create(
    user: User, sync_id: str, template_id: str, subject: str | None = None
) -> MailchimpCampaign:
    """Create the draft in Mailchimp for a synced list (one click): the audience gets the
    merge fields the template needs, and the campaign targets the list's segment only."""
    sync = db.session.scalar(select(MailchimpSync).where(MailchimpSync.public_id == sync_id))
    if sync is None:
        raise invalid({"syncId": "unknown sync"})
    template = db.session.scalar(
        select(Template).where(Template.public_id == template_id, Template.type == "email")
    )
    if template is None:
        raise invalid({"templateId": "unknown email template"})
    if subject:
        check_email_parts(subject, template.html or "<p></p>")
    from_name, reply_to = parseaddr(current_app.config.get("FROM_EMAIL") or "")
    client = require_client()
    try:
        keys = merge.custom_keys([(template.subject, template.html), (subject, None)])
        tags = with_retries(merge.ensure_merge_fields, client, sync.audience_id, keys)
        subject, html = content_from_template(template, tags, subject)
        if len(subject) > MAX_SUBJECT:
            raise invalid(
                {"subject": f"longer than {MAX_SUBJECT} characters once in Mailchimp's merge tags"}
            )
        recipients = _recipients_or_422(client, sync, user)
        remote_id = with_retries(
            client.create_campaign,
            sync.audience_id,
            subject=subject,
            from_name=from_name or "Decant",
            reply_to=reply_to or "marketing@example.com",
            title=f"{template.name} ({utcnow():%Y-%m-%d})",
            segment_opts=segments.segment_opts(recipients),
        )
        with_retries(client.set_campaign_content, remote_id, html)
    except NotFoundError as exc:
        raise invalid({"syncId": f"Mailchimp audience not found: {exc}"}) from exc
    except ProviderError as exc:
        raise ProviderFailed(f"Mailchimp refused the campaign: {exc}") from exc
    campaign = MailchimpCampaign(
        sync_id=sync.id,
        remote_id=remote_id,
        template_id=template.id,
        subject=subject,
        status="draft",
        created_by_id=user.id,
        report={"recipients": recipients.json(), "mergeTags": tags},
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _target_list(campaign: MailchimpCampaign, user: User) -> mc.MailchimpClient:
    """Right before a send: the segment holds the list's members now, and the draft in
    Mailchimp targets that segment (a draft made for the whole audience is refused)."""
    sync = db.session.get(MailchimpSync, campaign.sync_id)
    if sync is None:
        raise Conflict("The synced list of this campaign was deleted")
    client = require_client()
    try:
        recipients = _recipients_or_422(client, sync, user)
        targeted = with_retries(client.campaign_segment_id, campaign.remote_id or "")
    except NotFoundError as exc:
        raise Conflict(f"Mailchimp no longer has this campaign: {exc}") from exc
    except ProviderError as exc:
        raise ProviderFailed(f"Mailchimp did not answer: {exc}") from exc
    if targeted != recipients.segment_id:
        raise Conflict(
            "This draft targets the whole Mailchimp audience, not the list: create the "
            "campaign again"
        )
    campaign.report = {**(campaign.report or {}), "recipients": recipients.json()}
    db.session.commit()
    return client


def send_now(campaign: MailchimpCampaign, user: User) -> MailchimpCampaign:
    """Send once to the list's segment (Mailchimp's send is not idempotent: no blind
    retry)."""
    if campaign.status not in ("draft", "failed"):
        raise Conflict(f"Campaign is already {campaign.status}")
    client = _target_list(campaign, user)
    try:
        client.send_campaign(campaign.remote_id or "")
    except ProviderError as exc:
        campaign.last_error = str(exc)
        db.session.commit()
        raise ProviderFailed(f"Mailchimp did not send: {exc}") from exc
    campaign.status = "sent"
    campaign.sent_at = utcnow()
    campaign.last_error = None
    db.session.commit()
    return campaign


def schedule(campaign: MailchimpCampaign, when: datetime, user: User) -> MailchimpCampaign:
    """Schedule to the list's segment as it is now (a static segment: members added to the
    list later are in it only after another sync or send)."""
    if campaign.status not in ("draft", "failed"):
        raise Conflict(f"Campaign is already {campaign.status}")
    if when.tzinfo is None:
        raise invalid({"sendAt": "give a time zone (e.g. 2026-05-01T09:00:00Z)"})
    if when <= utcnow():
        raise invalid({"sendAt": "must be in the future"})
    client = _target_list(campaign, user)
    try:
        with_retries(client.schedule_campaign, campaign.remote_id or "", when)
    except ValueError as exc:
        raise invalid({"sendAt": str(exc)}) from exc
    except ProviderError as exc:
        raise ProviderFailed(f"Mailchimp did not schedule: {exc}") from exc
    campaign.status = "scheduled"
    campaign.scheduled_at = when
    db.session.commit()
    return campaign


# --------------------------------------------------------------------------- analytics


def pull_report(campaign_id: int) -> MailchimpCampaign | None:
    """Totals onto the campaign; per-member results onto activities; engaged tagging."""
    campaign = db.session.get(MailchimpCampaign, campaign_id)
    conn = get_connection()
    if campaign is None or conn is None or not campaign.remote_id:
        return campaign
    client = client_for(conn)
    sync = db.session.get(MailchimpSync, campaign.sync_id)
    try:
        report = with_retries(client.campaign_report, campaign.remote_id)
        counts = with_retries(_pull_members, client, campaign, sync)
    except NotFoundError as exc:
        campaign.last_error = f"Mailchimp no longer has this campaign: {exc}"
        db.session.commit()
        return campaign
    data = asdict(report)
    data.pop("campaign_id", None)
    kept = {k: v for k, v in (campaign.report or {}).items() if k in ("recipients", "mergeTags")}
    campaign.report = {**data, **counts, **kept}
    campaign.report_fetched_at = utcnow()
    if campaign.status == "scheduled" and report.sends:
        campaign.status = "sent"
        campaign.sent_at = campaign.sent_at or utcnow()
    db.session.commit()
    return campaign


def _pull_members(
    client: mc.MailchimpClient, campaign: MailchimpCampaign, sync: MailchimpSync | None
) -> dict[str, int]:
    """One pass over the email activity (restartable: activities are upserted)."""
    counts = {"activitiesLogged": 0, "engagedTagged": 0, "unmatched": 0}
    page: list[mc.MemberActivity] = []
    for activity in client.campaign_member_activity(campaign.remote_id or ""):
        page.append(activity)
        if len(page) >= 500:
            _apply_page(client, campaign, sync, page, counts)
            page = []
    _apply_page(client, campaign, sync, page, counts)
    return counts


def _apply_page(
    client: mc.MailchimpClient,
    campaign: MailchimpCampaign,
    sync: MailchimpSync | None,
    page: list[mc.MemberActivity],
    counts: dict[str, int],
) -> None:
    if not page:
        return
    tag = current_app.config["MAILCHIMP_ENGAGED_TAG"]
    emails = {a.email.lower() for a in page}
    customers: dict[str, list[Customer]] = {}
    for customer in db.session.scalars(
        select(Customer).where(func.lower(Customer.email).in_(emails))
    ).unique():
        customers.setdefault((customer.email or "").lower(), []).append(customer)
    ids = [c.id for group in customers.values() for c in group]
    existing = {
        a.customer_id: a
        for a in db.session.scalars(
            select(Activity).where(
                Activity.customer_id.in_(ids),
                Activity.type == "Email Campaign",
                Activity.notes.contains(marker(campaign)),
            )
        )
    }
    when = campaign.sent_at or utcnow()
    for item in page:
        matches = customers.get(item.email.lower())
        if not matches:
            counts["unmatched"] += 1
            continue
        notes = (
            f"Mailchimp: opens={item.opens} clicks={item.clicks} "
            f"bounced={'yes' if item.bounced else 'no'} {marker(campaign)}"
        )
        engaged = item.opens > 0 or item.clicks > 0
        for customer in matches:
            activity = existing.get(customer.id)
            subject = recipient_subject(campaign, customer)[:300]
            if activity is None:
                db.session.add(
                    Activity(
                        customer_id=customer.id,
                        type="Email Campaign",
                        subject=subject,
                        body="Sent through Mailchimp",
                        direction="sent",
                        occurred_at=when,
                        notes=notes,
                        user_id=campaign.created_by_id,
                    )
                )
            else:
                activity.notes = notes
                activity.subject = subject
            counts["activitiesLogged"] += 1
            fields = dict(customer.custom_fields or {})
            if engaged and fields.get(tag) is not True:
                fields[tag] = True
                customer.custom_fields = fields
                counts["engagedTagged"] += 1
                if sync is not None:
                    with contextlib.suppress(NotFoundError):
                        with_retries(client.update_member_tags, sync.audience_id, item.email, [tag])
    db.session.commit()


def campaigns_to_refresh(days: int) -> list[MailchimpCampaign]:
    since = utcnow() - timedelta(days=days)
    return list(
        db.session.scalars(
            select(MailchimpCampaign).where(
                MailchimpCampaign.status.in_(("sent", "scheduled")),
                (MailchimpCampaign.sent_at >= since) | (MailchimpCampaign.scheduled_at >= since),
            )
        )
    )


def campaign_json(c: MailchimpCampaign) -> dict[str, Any]:
    sync = db.session.get(MailchimpSync, c.sync_id)
    return {
        "id": c.public_id,
        "syncId": sync.public_id if sync else None,
        "remoteId": c.remote_id,
        "subject": c.subject,
        "subjectPreview": display_subject(c),
        "status": c.status,
        "scheduledAt": c.scheduled_at.isoformat() if c.scheduled_at else None,
        "sentAt": c.sent_at.isoformat() if c.sent_at else None,
        "report": c.report or {},
        "reportFetchedAt": c.report_fetched_at.isoformat() if c.report_fetched_at else None,
        "lastError": c.last_error,
    }


def member_results(campaign: MailchimpCampaign, limit: int = 500) -> list[tuple[Customer, str]]:
    rows = db.session.execute(
        select(Customer, Activity.notes)
        .join(Activity, Activity.customer_id == Customer.id)
        .where(Activity.type == "Email Campaign", Activity.notes.contains(marker(campaign)))
        .order_by(Customer.name)
        .limit(limit)
    ).unique()
    return [(c, n or "") for c, n in rows]
