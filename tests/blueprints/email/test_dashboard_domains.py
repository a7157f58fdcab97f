"""The dashboard's deliverability by kind of recipient domain, counted in the database."""

from __future__ import annotations

from datetime import timedelta

from app.dashboard.metrics import Scope
from app.extensions import db
from app.messaging.machine_signals import Verdict
from app.models_base import utcnow
from blueprints.email import tracking
from blueprints.email.dashboard import figures
from blueprints.email.models import EmailMessage


def test_consumer_business_and_gateway_domains(app):
    sent = utcnow() - timedelta(days=1)
    rows = {}
    for name, address in {
        "consumer": "ann@gmail.com",
        "shouting": "Bob@Hotmail.COM",
        "business": "cat@shop.example",
        "scanned": "dan@bank.example",
        "bounced": "eve@cellar.example",
    }.items():
        rows[name] = EmailMessage(
            to_address=address, status="sent", sent_at=sent, open_count=0, click_count=0,
            delivered_at=None if name == "bounced" else sent,
            bounced_at=sent if name == "bounced" else None,
        )  # fmt: skip
        db.session.add(rows[name])
    db.session.commit()
    tracking.record_engagement(rows["scanned"], "click", verdict=Verdict(False, "too_soon"))
    tracking.record_engagement(rows["consumer"], "open")
    tracking.record_engagement(rows["business"], "open", verdict=Verdict(False, "apple_mpp"))
    today = utcnow().date()
    by_kind = figures(Scope(today - timedelta(days=7), today + timedelta(days=1)))["byDomainType"]
    assert {kind: f["sent"] for kind, f in by_kind.items()} == {
        "consumer": 2,
        "business": 2,
        "gateway": 1,
    }
    assert by_kind["consumer"]["humanOpenRate"] == 0.5
    assert by_kind["business"]["bounceRate"] == 0.5
    assert by_kind["business"]["deliveryRate"] == 0.5
    assert by_kind["gateway"]["deliveryRate"] == 1.0


def test_consumer_flag_is_written_with_the_message_orm_and_core(app):
    """The split reads a flag stored when the message is written (any case, the domain
    after the last @), by the ORM and by a Core INSERT alike."""
    from sqlalchemy import insert, select

    from blueprints.email.domains import is_consumer_address

    assert is_consumer_address("Ann@GMail.Com")
    assert not is_consumer_address("gmail.com@shop.example")
    assert not is_consumer_address("ann@notgmail.com")
    assert not is_consumer_address("gmail.com")
    db.session.add(EmailMessage(to_address="Zoe@Yahoo.com", status="sent"))
    db.session.add(EmailMessage(to_address="zoe@yahoo.com.example", status="sent"))
    db.session.execute(
        insert(EmailMessage),
        [
            {"public_id": "eml_core_1", "to_address": "kim@icloud.com", "status": "sent"},
            {"public_id": "eml_core_2", "to_address": "kim@cave.example", "status": "sent"},
        ],
    )
    db.session.commit()
    flags = dict(
        db.session.execute(select(EmailMessage.to_address, EmailMessage.consumer_mailbox)).all()
    )
    assert flags == {
        "Zoe@Yahoo.com": True,
        "zoe@yahoo.com.example": False,
        "kim@icloud.com": True,
        "kim@cave.example": False,
    }


def test_migration_0041_flags_the_messages_already_sent(tmp_path):
    """0041 fills the consumer flag of messages written before it, as the LIKE test did."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from tests.conftest import app_settings

    app = create_app(app_settings("sqlite:///" + str(tmp_path / "m.sqlite")))
    with app.app_context():
        upgrade(revision="0034")
        with db.engine.begin() as conn:
            for mid, address in enumerate(
                ("ann@GMAIL.com", "bob@shop.example", "gmail.com@cave.example", "cy@web.de"), 1
            ):
                conn.execute(
                    text(
                        "INSERT INTO email_message (id, public_id, to_address, status, attempts,"
                        " open_count, human_open_count, click_count, human_click_count,"
                        " created_at, updated_at) VALUES (:id, :pid, :address, 'sent', 1,"
                        " 0, 0, 0, 0, '2026-01-01', '2026-01-01')"
                    ),
                    {"id": mid, "pid": f"eml_{mid}", "address": address},
                )
        upgrade(revision="0041")
        with db.engine.connect() as conn:
            flags = dict(
                conn.execute(text("SELECT to_address, consumer_mailbox FROM email_message")).all()
            )
        db.engine.dispose()
    assert {address: bool(flag) for address, flag in flags.items()} == {
        "ann@GMAIL.com": True,
        "bob@shop.example": False,
        "gmail.com@cave.example": False,
        "cy@web.de": True,
    }


def test_a_campaigns_rows_carry_the_consumer_flag(app, make_customer):
    """A campaign's rows are written by one INSERT ... SELECT, where the column default
    does not run: the flag comes from the SQL form of the same rule (every campaign row
    was stored as a business domain)."""
    from sqlalchemy import select

    from app.crm.models import Customer
    from app.messaging.models import Campaign
    from blueprints.email.sending import materialize

    make_customer(email="Ann@GMail.com")
    make_customer(email="bob@cellar.example")
    make_customer(email="cat@gmail.com.example")
    campaign = Campaign(channel="email", name="x", subject="s", html="<p>hi</p>", audience_ref="-")
    db.session.add(campaign)
    db.session.commit()
    assert materialize(campaign, select(Customer.id)) == 3
    db.session.commit()
    flags = dict(
        db.session.execute(
            select(EmailMessage.to_address, EmailMessage.consumer_mailbox).where(
                EmailMessage.campaign_id == campaign.id
            )
        ).all()
    )
    assert flags == {
        "ann@gmail.com": True,
        "bob@cellar.example": False,
        "cat@gmail.com.example": False,
    }
