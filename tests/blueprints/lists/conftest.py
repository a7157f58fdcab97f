"""Demo-like data for the lists tests: five customers across territories, SKUs, orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.extensions import db
from app.models_base import utcnow

API = "/api/sales/marketing/lists"


def today() -> date:
    return utcnow().date()


def add_order(customer, sku, days_ago: int) -> None:
    from app.crm.models import Order, OrderLine

    order = Order(customer_id=customer.id, order_date=today() - timedelta(days=days_ago))
    order.lines.append(OrderLine(sku_id=sku.id, quantity=1, unit_price=sku.price))
    db.session.add(order)
    db.session.commit()


@dataclass
class Demo:
    skus: dict[str, Any]
    customers: dict[str, Any]

    def ids(self, *names: str) -> set[int]:
        return {self.customers[n].id for n in names}


@pytest.fixture
def make_sku(app):
    from app.crm.models import Sku

    def make(code: str) -> Sku:
        sku = Sku(code=code, name=f"Wine {code}", price=Decimal("20.00"))
        db.session.add(sku)
        db.session.commit()
        return sku

    return make


@pytest.fixture
def demo(make_customer, make_sku) -> Demo:
    skus = {"A": make_sku("A-PINOT"), "B": make_sku("B-RIOJA")}
    c = {
        "north_vip": make_customer(
            "North",
            account_type="ACTIVE",
            account_priority="HIGH",
            lifetime_revenue=Decimal("80000"),
            custom_fields={"region": "coast", "vip": True, "tier": 3},
            email="vip@north.example",
        ),
        "north_prospect": make_customer(
            "North",
            account_type="PROSPECT",
            account_priority="LOW",
            lifetime_revenue=Decimal("0"),
            custom_fields={},
            email="prospect@north.example",
        ),
        "south_active": make_customer(
            "South",
            account_type="ACTIVE",
            account_priority="MEDIUM",
            lifetime_revenue=Decimal("60000"),
            custom_fields={"region": "inland", "tier": "3"},
            email="active@south.example",
        ),
        "east_churned": make_customer(
            "East",
            account_type="CHURNED",
            account_priority="HIGH",
            lifetime_revenue=Decimal("20000"),
            custom_fields={"vip": False},
            email="churned@east.example",
        ),
        "north_boundary": make_customer(
            "North",
            account_type="INACTIVE",
            account_priority="MEDIUM",
            lifetime_revenue=Decimal("50000"),
            custom_fields={"tier": 3.0},
            email="boundary@north.example",
        ),
    }
    add_order(c["north_vip"], skus["A"], 10)
    add_order(c["south_active"], skus["B"], 100)
    add_order(c["east_churned"], skus["A"], 400)
    add_order(c["north_boundary"], skus["B"], 30)
    return Demo(skus=skus, customers=c)


@pytest.fixture
def call(client, token_headers):
    """``call(user, "post", "/path", json=...)`` with the user's bearer token."""
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        headers = {**cache[user.id], **kwargs.pop("headers", {})}
        url = path if path.startswith("/api/") else API + path
        return client.open(url, method=method.upper(), headers=headers, **kwargs)

    return do
