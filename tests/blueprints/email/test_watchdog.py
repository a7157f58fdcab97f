"""A campaign whose worker died is resumed by the watchdog without losing anyone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign
from app.models_base import utcnow
from blueprints.email.models import EmailMessage
from tests.blueprints.email.conftest import count, dev_messages


def _sending_campaign(manager, **fields) -> Campaign:
    """A campaign some job was sending (flushed, not committed)."""
    values = {
        "name": "Backoff",
        "subject": "Hi",
        "html": "<p>x</p>",
        "started_at": utcnow() - timedelta(hours=2),
    }
    campaign = Campaign(
        channel="email", status="sending", created_by_id=manager.id, **{**values, **fields}
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def _row(campaign: Campaign, customer, **fields) -> None:
    db.session.add(
        EmailMessage(
            campaign_id=campaign.id, customer_id=customer.id, to_address=customer.email, **fields
        )
    )


def test_a_dead_workers_campaign_is_resumed_and_finished(app, manager, make_customer):
    customers = [make_customer(email=f"guest{i}@example.com") for i in range(9)]
    campaign = _sending_campaign(
        manager,
        name="Spring tasting",
        subject="Spring tasting, {{ customer_name }}",
        html="<p>Join us</p>",
        started_at=utcnow() - timedelta(hours=1),
    )
    long_ago = utcnow() - timedelta(hours=1)
    states = ["sent"] * 3 + ["sending"] * 3 + ["queued"] * 3  # what a SIGKILL leaves behind
    for customer, state in zip(customers, states, strict=True):
        _row(
            campaign,
            customer,
            status=state,
            claimed_at=long_ago if state != "queued" else None,
            claim_token="dead-worker" if state == "sending" else None,
            sent_at=long_ago if state == "sent" else None,
        )
    db.session.commit()

    assert delivery.resume_campaigns() == [campaign.id]  # inline: resumed and run to the end

    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "sent"
    assert count(EmailMessage, EmailMessage.status == "sent") == 9
    sent_now = sorted(m.to for m in dev_messages())
    assert sent_now == sorted(c.email for c in customers[3:])  # the 6 unsent, each once


def test_a_campaign_still_making_progress_is_left_alone(app, manager, make_customer):
    customer = make_customer()
    campaign = _sending_campaign(manager, name="Live", started_at=None)
    _row(
        campaign,
        customer,
        status="sending",
        claimed_at=utcnow(),
        claim_token="busy-worker",
    )
    db.session.commit()
    assert delivery.resume_campaigns() == []
    row = db.session.scalar(select(EmailMessage))
    assert row.status == "sending" and row.claim_token == "busy-worker"


def test_rows_deferred_to_later_get_no_new_job_each_watchdog_round(app, manager, make_customer):
    """The provider's backoff put the rest off for an hour: the job scheduled for then
    is waiting, so the watchdog adds none (every round would add a chain of jobs)."""
    customer = make_customer()
    campaign = _sending_campaign(manager)
    _row(
        campaign,
        customer,
        status="queued",
        attempts=3,
        claimed_at=utcnow() - timedelta(hours=1),
        next_attempt_at=utcnow() + timedelta(hours=1),
    )
    db.session.commit()
    assert delivery.resume_campaigns() == []
    assert dev_messages() == []


def test_a_campaign_whose_rows_are_all_done_is_marked_sent(app, manager, make_customer):
    """Its last job died after the last batch, before marking it: the watchdog's job does."""
    customer = make_customer()
    campaign = _sending_campaign(manager)
    _row(
        campaign,
        customer,
        status="sent",
        claimed_at=utcnow() - timedelta(hours=1),
        sent_at=utcnow() - timedelta(hours=1),
    )
    db.session.commit()
    assert delivery.resume_campaigns() == [campaign.id]
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "sent"
    assert dev_messages() == []


def test_finishing_keeps_a_cancel_committed_meanwhile(app, manager, make_customer):
    """A campaign's jobs find no row left at about the same moment as a user cancels it
    (or another job marks it sent): marking it sent changes only a sending campaign."""
    from sqlalchemy import update

    customer = make_customer()
    campaign = _sending_campaign(manager)
    _row(
        campaign,
        customer,
        status="sent",
        sent_at=utcnow(),
    )
    db.session.commit()
    loaded = db.session.get(Campaign, campaign.id)
    assert loaded.status == "sending"  # what the job read when it started
    db.session.execute(
        update(Campaign).where(Campaign.id == campaign.id).values(status="cancelled"),
        execution_options={"synchronize_session": False},
    )
    delivery._finish_or_wait(loaded, delivery.channel_for("email"))
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "cancelled"
