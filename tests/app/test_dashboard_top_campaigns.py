"""The dashboard's top campaigns: with more campaigns than it shows, ranked on attributed
revenue alone and the full figures read for the top ones; the same rows, in the same
order, as ranking every campaign's full figures (ties kept in the order read)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from app.attribution.models import ATTRIBUTED, INFLUENCED, OrderTouch
from app.attribution.reports import campaign_revenue
from app.crm.models import Order
from app.dashboard.metrics import Scope
from app.dashboard.service import top_campaigns
from app.extensions import db
from app.messaging.models import Campaign
from app.models_base import utcnow


def _every_campaign_ranked(campaigns: list[Campaign], limit: int) -> list[tuple[str, dict]]:
    figures = campaign_revenue([c.id for c in campaigns])
    rows = []
    for c in campaigns:
        revenue = Decimal(figures[c.id]["attributedRevenue"])
        per = revenue / c.recipients_total if c.recipients_total else Decimal(0)
        rows.append((c.public_id, {**figures[c.id], "revenuePerRecipient": f"{per:.2f}"}))
    rows.sort(
        key=lambda r: (Decimal(r[1]["revenuePerRecipient"]), Decimal(r[1]["attributedRevenue"])),
        reverse=True,
    )
    return rows[:limit]


def test_top_campaigns_of_many_rank_as_every_campaign_would(app, make_customer):
    now = utcnow()
    customer = make_customer("North")
    campaigns = [
        Campaign(
            channel="email", name=f"C{n}", status="sent", started_at=now - timedelta(days=3),
            recipients_total=(0 if n == 5 else 10 + n % 3),
        )
        for n in range(14)
    ]  # fmt: skip
    db.session.add_all(campaigns)
    db.session.commit()
    for n, campaign in enumerate(campaigns):
        # equal revenue for several campaigns (ties), some only influenced, one empty
        for k in range(n % 4):
            order = Order(
                customer_id=customer.id, order_date=now.date(), total=Decimal(30 + 10 * (n % 2))
            )
            db.session.add(order)
            db.session.flush()
            for role, kind in ((ATTRIBUTED, "email_click"), (INFLUENCED, "email_open")):
                if role == ATTRIBUTED and k == 2:
                    continue  # influenced only
                db.session.add(
                    OrderTouch(
                        order_id=order.id, customer_id=customer.id, campaign_id=campaign.id,
                        channel="email", kind=kind, message_ref=f"m{n}", touched_at=now,
                        role=role, order_date=order.order_date, total=order.total,
                    )
                )  # fmt: skip
    db.session.commit()
    today = now.date()
    scope = Scope(today - timedelta(days=30), today + timedelta(days=1))
    shown = top_campaigns(scope, limit=10)
    expected = _every_campaign_ranked(campaigns, 10)
    assert [row["id"] for row in shown] == [pid for pid, _ in expected]
    for row, (_, figures) in zip(shown, expected, strict=True):
        assert {k: row[k] for k in figures} == figures
    assert any(row["influencedOrders"] > row["attributedOrders"] for row in shown)
