"""``flask demo load``: a valid, consistent, idempotent demo CRM.

Self-contained: the test builds its own app and schema (``db.create_all``) in a temporary
SQLite file, or, when DATABASE_URL names PostgreSQL, in a private schema of that database
that is dropped afterwards, so the shared test schema is never touched.
"""

from __future__ import annotations

import os
import re
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
from email_validator import validate_email
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.auth.models import User
from app.auth.services import authenticate
from app.crm.demo import spread
from app.crm.models import (
    Activity,
    CommunicationPreference,
    Customer,
    Order,
    OrderLine,
    Sku,
    Territory,
)
from app.extensions import db
from app.models_base import utcnow

MODELS = (Territory, User, Sku, Customer, CommunicationPreference, Activity, Order, OrderLine)


@contextmanager
def _isolated(url: str) -> Iterator[str]:
    """SQLite as is; PostgreSQL gets a throwaway schema first on the search path."""
    if not url.startswith("postgres"):
        yield url
        return
    base = make_url(url).set(drivername="postgresql+psycopg")
    schema = f"demo_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def demo_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("DECANT_INSTANCE_PATH", str(tmp_path / "instance"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path}/t.db"
    with _isolated(url) as database_url:
        app = create_app(
            {
                "DECANT_ENV": "testing",
                "SECRET_KEY": "demo-test-secret",
                "DATABASE_URL": database_url,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        with app.app_context():
            db.drop_all()
            db.create_all()
            yield app
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def _counts() -> dict[type, int]:
    return {m: db.session.scalar(select(func.count()).select_from(m)) for m in MODELS}


def _admin_login(output: str) -> tuple[str, str]:
    match = re.search(r"^Admin login: (\S+) / (\S+)$", output, re.MULTILINE)
    assert match, output
    return match.group(1), match.group(2)


def test_demo_load_is_complete_valid_and_idempotent(demo_app: Flask) -> None:
    runner = demo_app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    email, password = _admin_login(result.output)
    assert email == "admin@decant.example"

    counts = _counts()
    assert counts[Territory] >= 4
    assert counts[Sku] >= 40
    assert counts[Customer] >= 400
    assert counts[CommunicationPreference] == counts[Customer]
    assert counts[Order] >= 4000
    assert counts[OrderLine] >= counts[Order]
    assert counts[Activity] > 0
    roles = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles["admin"] >= 1 and roles["manager"] >= 1 and roles["rep"] >= 3
    assert all(t.timezone.startswith("America/") for t in db.session.scalars(select(Territory)))

    _check_contacts()
    _check_totals()
    _check_smart_list_coverage()

    saved = Path(demo_app.instance_path) / "demo_login.txt"
    assert saved.read_text().strip() == f"Admin login: {email} / {password}"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert _counts() == counts

    user = authenticate(email, password)
    assert user is not None and user.role == "admin"


def _check_contacts() -> None:
    for model, prefix in ((Customer, "cus"), (Order, "ord"), (Activity, "act")):
        ids = db.session.scalars(select(model.public_id)).all()
        assert all(re.fullmatch(prefix + r"_[A-Za-z0-9_-]{16}", i) for i in ids)
    rows = db.session.execute(select(Customer.email, Customer.phone)).all()
    emails = [r.email for r in rows]
    assert len(set(emails)) == len(emails)
    for address, phone in rows:
        normal = validate_email(address, check_deliverability=False).normalized
        assert normal == address == address.lower()
        assert address.endswith((".example", "@example.com", "@example.net", "@example.org"))
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone


def _check_totals() -> None:
    """Order totals are their lines; customer totals are their orders (for everyone)."""
    line_sums = (
        select(OrderLine.order_id, func.sum(OrderLine.quantity * OrderLine.unit_price).label("s"))
        .group_by(OrderLine.order_id)
        .subquery()
    )
    wrong = db.session.scalar(
        select(func.count())
        .select_from(Order)
        .join(line_sums, line_sums.c.order_id == Order.id)
        .where(func.abs(Order.total - line_sums.c.s) > 0.001)
    )
    assert wrong == 0
    per_customer = (
        select(
            Customer.lifetime_revenue,
            Customer.last_order_date,
            func.coalesce(func.sum(Order.total), 0),
            func.max(Order.order_date),
        )
        .outerjoin(Order, Order.customer_id == Customer.id)
        .group_by(Customer.id, Customer.lifetime_revenue, Customer.last_order_date)
    )
    for revenue, last, total, newest in db.session.execute(per_customer):
        assert Decimal(revenue) == Decimal(total).quantize(Decimal("0.01"))
        assert last == newest


def _check_smart_list_coverage() -> None:
    today = utcnow().date()

    def customers(*where) -> int:
        return db.session.scalar(select(func.count()).select_from(Customer).where(*where))

    assert customers(Customer.lifetime_revenue >= 50_000) > 0
    assert customers(Customer.last_order_date.is_(None)) > 0
    for days in (30, 60, 90):
        assert customers(Customer.last_order_date < today - timedelta(days=days)) > 0
    assert customers(Customer.last_order_date >= today - timedelta(days=30)) > 0
    for account_type in ("ACTIVE", "PROSPECT", "INACTIVE", "CHURNED"):
        assert customers(Customer.account_type == account_type) > 0
    for territory in db.session.scalars(select(Territory)):
        assert customers(
            Customer.territory_id == territory.id,
            Customer.account_type == "ACTIVE",
            Customer.account_priority == "HIGH",
        )
    ordered = db.session.scalar(select(func.count(func.distinct(OrderLine.sku_id))))
    assert ordered == db.session.scalar(select(func.count()).select_from(Sku))
    oldest = db.session.scalar(select(func.min(Order.order_date)))
    assert oldest >= today - timedelta(days=550)
    # Every customer's rep works in the customer's territory.
    mismatched = db.session.scalar(
        select(func.count())
        .select_from(Customer)
        .join(User, User.id == Customer.rep_id)
        .where(User.territory_id != Customer.territory_id)
    )
    assert mismatched == 0


def test_demo_load_reads_admin_password_file(demo_app: Flask, tmp_path: Path) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("chosen-demo-password\n")
    result = demo_app.test_cli_runner().invoke(
        args=[
            "demo",
            "load",
            "--customers",
            "20",
            "--orders",
            "60",
            "--admin-password-file",
            str(secret),
        ]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert _admin_login(result.output)[1] == "chosen-demo-password"
    assert authenticate("admin@decant.example", "chosen-demo-password") is not None
    assert db.session.scalar(select(func.count()).select_from(Order)) == 60


def test_spread_shares_exactly() -> None:
    assert spread(10, [1, 1, 1]) == [3, 3, 4]
    assert sum(spread(4_500, [0, 7, 13, 600, 1])) == 4_500
    assert spread(5, [0, 0]) == [0, 0]
