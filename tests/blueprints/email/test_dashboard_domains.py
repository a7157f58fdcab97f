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
