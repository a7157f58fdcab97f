"""Reactions to core signals: Mailchimp webhooks in, CRM opt-outs out."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from app import jobs
from app.crm.models import Customer
from app.crm.services import log_activity
from app.extensions import db
from app.messaging import consent
from blueprints.mailchimp.models import MailchimpUnlinkedMember

SOURCE = "mailchimp"


def on_webhook(sender: Flask, *, provider: str, kind: str, data: dict[str, Any], **_: Any) -> Any:
    """Apply a stored Mailchimp webhook event (subscribe, unsubscribe, profile, ...).

    Mailchimp's webhooks are unsigned and its public signup form is open to anyone, so a
    ``subscribe`` never lifts a Decant opt-out or suppression (the person re-subscribes
    through Decant's own confirmation); an ``unsubscribe`` whose ``action`` is ``delete``
    is an admin removing the member from that audience, not the person saying no.
    """
    if provider != "mailchimp":
        return None
    email = (data.get("data[email]") or "").strip()
    audience_id = (data.get("data[list_id]") or "").strip()
    if kind == "unsubscribe" and email and data.get("data[action]") == "delete":
        _unlink(email, audience_id)
        return "mailchimp:delete"
    if kind == "unsubscribe" and email:
        consent.opt_out("email", email, reason="unsubscribe", source=SOURCE, detail=_detail(data))
    elif kind == "cleaned" and email:
        consent.opt_out("email", email, reason="bounce", source=SOURCE, detail=_detail(data))
    elif kind == "subscribe" and email:
        return _subscribe(email, audience_id)
    elif kind == "upemail":
        _change_email(data.get("data[old_email]") or "", data.get("data[new_email]") or "")
    elif kind == "profile" and email:
        merges = {
            k[len("data[merges][") : -1]: v
            for k, v in data.items()
            if k.startswith("data[merges][")
        }
        summary = ", ".join(f"{k}={v}" for k, v in sorted(merges.items()) if v)
        for customer in _customers(email):
            log_activity(
                customer.id,
                "Note",
                subject="Mailchimp profile updated",
                direction="received",
                notes=summary or None,
                commit=False,
            )
        db.session.commit()
    else:
        return None
    return f"mailchimp:{kind}"


def _subscribe(email: str, audience_id: str) -> str:
    """Record consent from a Mailchimp signup, unless Decant holds a refusal: then note
    the request on the timeline, change nothing, and push the opt-out back to Mailchimp."""
    _relink(email, audience_id)
    customers = _customers(email)
    refused = consent.is_suppressed("email", email) or any(
        consent.refusal("email", c, email) for c in customers
    )
    if not refused:
        consent.opt_in("email", email, source=SOURCE)
        return "mailchimp:subscribe"
    for customer in customers:
        log_activity(
            customer.id,
            "Note",
            subject="Mailchimp signup not applied",
            direction="received",
            notes=(
                f"{email} subscribed to Mailchimp audience {audience_id or '?'} but opted out "
                "in Decant: still opted out (re-subscribing needs the person's confirmation)"
            ),
            commit=False,
        )
    db.session.commit()
    jobs.enqueue("blueprints.mailchimp.jobs:push_opt_out", email, queue="sync")
    return "mailchimp:subscribe-refused"


def _unlink(email: str, audience_id: str) -> None:
    """An admin deleted the member in Mailchimp: keep the sync from adding it back."""
    key = email.strip().lower()
    exists = db.session.scalar(
        select(MailchimpUnlinkedMember.id).where(
            MailchimpUnlinkedMember.audience_id == audience_id,
            MailchimpUnlinkedMember.email == key,
        )
    )
    if exists is None:
        db.session.add(MailchimpUnlinkedMember(audience_id=audience_id, email=key))
    for customer in _customers(email):
        log_activity(
            customer.id,
            "Note",
            subject="Removed from a Mailchimp audience",
            direction="received",
            notes=f"deleted from audience {audience_id or '?'} in Mailchimp; consent unchanged",
            commit=False,
        )
    db.session.commit()


def _relink(email: str, audience_id: str) -> None:
    db.session.execute(
        delete(MailchimpUnlinkedMember).where(
            MailchimpUnlinkedMember.audience_id == audience_id,
            MailchimpUnlinkedMember.email == email.strip().lower(),
        )
    )


def _detail(data: dict[str, Any]) -> str:
    reason = data.get("data[reason]") or ""
    return f"Mailchimp webhook {data.get('type', '')} {reason}".strip()[:300]


def _customers(email: str) -> list[Customer]:
    return list(
        db.session.scalars(
            select(Customer).where(func.lower(Customer.email) == email.strip().lower())
        ).unique()
    )


def _change_email(old: str, new: str) -> None:
    """A subscriber changed address at Mailchimp: follow it on the matching customers."""
    if not old or not new or "@" not in new:
        return
    for customer in _customers(old):
        customer.email = new.strip()
        log_activity(
            customer.id,
            "Note",
            subject="Email changed in Mailchimp",
            direction="received",
            notes=f"{old} -> {new}",
            commit=False,
        )
    db.session.commit()


def on_opted_out(sender: Flask, *, channel: str, address: str, source: str = "", **_: Any) -> None:
    """A CRM opt-out (not one that came from Mailchimp) is pushed as unsubscribed."""
    if channel != "email" or source == SOURCE or not address:
        return
    from blueprints.mailchimp.client import get_connection

    if get_connection() is None:
        return
    jobs.enqueue("blueprints.mailchimp.jobs:push_opt_out", address, queue="sync")
