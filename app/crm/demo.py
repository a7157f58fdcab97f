"""``flask demo load``: fill an empty CRM with a wine distributor's realistic demo data.

Territories, users and SKUs go through the ORM. Customers, their consent, activities,
orders and order lines are generated in chunks and written with the driver's
``executemany`` (no ORM objects, no per-row round trips), all in one transaction, so a
failed load leaves nothing behind. Customer totals are then computed by one UPDATE.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time as clock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as daytime
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any, TypeVar

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Connection, func, select, update

from app.auth.models import User
from app.auth.passwords import hash_password
from app.crm import demo_catalogue as cat
from app.crm.models import ACCOUNT_PRIORITIES, ACCOUNT_TYPES, Customer, Order, Sku, Territory
from app.extensions import db
from app.models_base import utcnow

_V = TypeVar("_V")

demo_cli = AppGroup("demo", help="Demo data.")

CHUNK_CUSTOMERS = 5_000
HISTORY_DAYS = 547  # orders cover the last 18 months
LOGIN_FILE = "demo_login.txt"
# Set for the load's duration only: no fsync per commit, a 256 MiB page cache.
SQLITE_PRAGMAS = {"synchronous": "OFF", "cache_size": "-262144"}

ACTIVE, PROSPECT, INACTIVE, CHURNED = (
    ACCOUNT_TYPES.index(a) for a in ("ACTIVE", "PROSPECT", "INACTIVE", "CHURNED")
)
HIGH, MEDIUM, LOW = (ACCOUNT_PRIORITIES.index(p) for p in ("HIGH", "MEDIUM", "LOW"))
# Shares (out of 100) of account types and priorities, and relative ordering weights.
ACCOUNT_SHARES = ((ACTIVE, 55), (PROSPECT, 15), (INACTIVE, 15), (CHURNED, 15))
PRIORITY_SHARES = ((HIGH, 18), (MEDIUM, 47), (LOW, 35))
ACCOUNT_WEIGHT = {ACTIVE: 10, PROSPECT: 0, INACTIVE: 7, CHURNED: 5}
PRIORITY_WEIGHT = {HIGH: 60, MEDIUM: 20, LOW: 8}
# Bottles per order line by priority, and lines per order (1-4).
LINE_QUANTITIES = {
    HIGH: (12, 24, 24, 36, 36, 48, 60, 72),
    MEDIUM: (6, 12, 12, 12, 24, 24, 36),
    LOW: (3, 6, 6, 12, 12),
}
LINES_PER_ORDER = (1,) * 6 + (2,) * 7 + (3,) * 4 + (4,) * 3
# Phone exchanges: 200-999 minus N11 service codes and the 555 fictional block.
EXCHANGES = tuple(x for x in range(200, 1000) if x % 100 != 11 and x != 555)


@dataclass
class Plan:
    """Per-customer profile decided up front (small arrays, not rows)."""

    account: bytearray
    priority: bytearray
    territory: bytearray
    orders: list[int]


@dataclass
class Refs:
    """Ids of the rows the ORM created, by position in the catalogue."""

    territory_ids: list[int]
    reps: list[list[int]]  # rep user ids per territory
    sku_ids: list[int]
    sku_cents: list[int]


@dataclass
class Chunk:
    """Rows generated for one slice of customers, ready for executemany."""

    customers: list[tuple[Any, ...]] = field(default_factory=list)
    preferences: list[tuple[Any, ...]] = field(default_factory=list)
    consents: list[tuple[Any, ...]] = field(default_factory=list)
    consent_heads: list[tuple[Any, ...]] = field(default_factory=list)
    activities: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)


# --- the command -------------------------------------------------------------------


@demo_cli.command("load")
@click.option("--customers", type=click.IntRange(min=1), default=450, show_default=True)
@click.option("--orders", type=click.IntRange(min=0), default=4500, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--admin-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the demo admin's password from this file instead of generating one.",
)
def load_command(customers: int, orders: int, seed: int, admin_password_file: Path | None) -> None:
    """Load demo territories, users, wines, customers and orders (once)."""
    reason = already_loaded()
    if reason:
        click.echo(f"Skipping the demo load: {reason}; nothing changed.")
        saved = Path(current_app.instance_path) / LOGIN_FILE
        if saved.exists():
            click.echo(f"The demo admin login is in {saved}.")
        return
    password = _admin_password(admin_password_file)
    started = clock.perf_counter()
    counts = load_demo(customers, orders, seed, password, click.echo)
    elapsed = clock.perf_counter() - started
    rows = sum(counts.values())
    summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    click.echo(f"Demo data loaded in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s): {summary}.")
    line = f"Admin login: {cat.ADMIN_EMAIL} / {password}"
    path = _save_login(line)
    click.echo(line)
    click.echo(f"(saved to {path})")


def already_loaded() -> str | None:
    """Why the demo must not load (already there, or a real CRM), else None."""
    if db.session.scalar(select(User.id).where(User.email == cat.ADMIN_EMAIL)) is not None:
        return f"demo data is already there ({cat.ADMIN_EMAIL} exists)"
    customers = db.session.scalar(select(func.count()).select_from(Customer)) or 0
    if customers:
        return f"the database already has {customers:,} customers"
    return None


def _admin_password(path: Path | None) -> str:
    from app.auth.services import MIN_PASSWORD_LENGTH  # app.auth imports app.crm

    if path is None:
        return secrets.token_urlsafe(15)
    password = path.read_text().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"the admin password in {path} needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    return password


def _save_login(line: str) -> Path:
    """Keep the admin login (mode 0600) so ``make run`` can show it again."""
    path = Path(current_app.instance_path) / LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(line + "\n")
    path.chmod(0o600)
    return path


# --- the load ----------------------------------------------------------------------


def load_demo(
    customers: int,
    orders: int,
    seed: int,
    admin_password: str,
    echo: Callable[[str], Any] = print,
) -> dict[str, int]:
    """Write the whole demo in one transaction; returns row counts per table."""
    session = db.session
    conn = session.connection()
    try:
        with _fast_sqlite(conn):
            refs = _create_reference_rows(admin_password)
            conn = session.connection()
            counts = {
                "territories": len(refs.territory_ids),
                "users": len(cat.PEOPLE),
                "SKUs": len(refs.sku_ids),
            }
            counts.update(_bulk_load(conn, refs, customers, orders, seed, echo))
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return counts


def _special(price: str) -> Decimal:
    """15% off, to the cent."""
    return (Decimal(price) * Decimal("0.85")).quantize(Decimal("0.01"))


def _create_reference_rows(admin_password: str) -> Refs:
    """Territories, users and SKUs through the ORM (get-or-create by name/email/code)."""
    territories = {t.name: t for t in db.session.scalars(select(Territory))}
    for spec in cat.TERRITORIES:
        row = territories.get(spec.name)
        if row is None:
            row = territories[spec.name] = Territory(name=spec.name, timezone=spec.timezone)
            db.session.add(row)
    users = {u.email: u for u in db.session.scalars(select(User))}
    for person in cat.PEOPLE:
        if person.email in users:
            continue
        password = admin_password if person.email == cat.ADMIN_EMAIL else secrets.token_urlsafe()
        users[person.email] = User(
            email=person.email,
            name=person.name,
            role=person.role,
            territory=territories[person.territory] if person.territory else None,
            password_hash=hash_password(password),
        )
        db.session.add(users[person.email])
    skus = {s.code: s for s in db.session.scalars(select(Sku))}
    for number, wine in enumerate(cat.WINES):
        if wine.code not in skus:
            skus[wine.code] = Sku(
                code=wine.code,
                name=f"{wine.producer} {wine.label} {wine.vintage or 'NV'}",
                producer=wine.producer,
                varietal=wine.varietal,
                region=wine.region,
                vintage=wine.vintage,
                price=Decimal(wine.price),
                # one wine in five on special, so the featured "on special" rule has some
                special_price=_special(wine.price) if number % 5 == 0 else None,
            )
            db.session.add(skus[wine.code])
    db.session.flush()
    wines = [skus[w.code] for w in cat.WINES]
    return Refs(
        territory_ids=[territories[t.name].id for t in cat.TERRITORIES],
        reps=[
            [users[p.email].id for p in cat.PEOPLE if p.role == "rep" and p.territory == t.name]
            for t in cat.TERRITORIES
        ],
        sku_ids=[s.id for s in wines],
        sku_cents=[int(s.price * 100) for s in wines],
    )


def _bulk_load(
    conn: Connection,
    refs: Refs,
    customers: int,
    orders: int,
    seed: int,
    echo: Callable[[str], None],
) -> dict[str, int]:
    rng = Random(seed)
    plan = make_plan(rng, customers, orders, len(cat.TERRITORIES))
    first_customer = _max_id(conn, "customer") + 1
    gen = Generator(rng, Values.for_dialect(conn.dialect.name), refs, plan, first_customer)
    gen.next_order_id = _max_id(conn, "order") + 1
    writer = BulkWriter(conn, echo)
    for lo in range(0, customers, CHUNK_CUSTOMERS):
        hi = min(lo + CHUNK_CUSTOMERS, customers)
        writer.write(gen.chunk(lo, hi))
        writer.progress(hi, customers)
    started = clock.perf_counter()
    update_customer_totals(conn, first_customer, first_customer + customers - 1)
    echo(f"  customer totals updated in {clock.perf_counter() - started:.1f} s")
    _reset_sequences(conn)
    return writer.counts


def _max_id(conn: Connection, table: str) -> int:
    return conn.exec_driver_sql(f'SELECT MAX(id) FROM "{table}"').scalar() or 0


def update_customer_totals(conn: Connection, first_id: int, last_id: int) -> None:
    """lifetime_revenue, last_order_date and order_count from the orders, in one
    set-based UPDATE."""
    c, o = Customer.__table__, Order.__table__
    mine = o.c.customer_id == c.c.id
    revenue = select(func.round(func.coalesce(func.sum(o.c.total), 0), 2)).where(mine)
    last = select(func.max(o.c.order_date)).where(mine)
    count = select(func.count()).select_from(o).where(mine)
    conn.execute(
        update(c)
        .where(c.c.id.between(first_id, last_id))
        .values(
            lifetime_revenue=revenue.scalar_subquery(),
            last_order_date=last.scalar_subquery(),
            order_count=count.scalar_subquery(),
        )
    )


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: move the id sequences past the explicit ids we inserted."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("customer", "order"):
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'(SELECT MAX(id) FROM "{table}"))'
        )


@contextmanager
def _fast_sqlite(conn: Connection) -> Iterator[None]:
    """On SQLite, skip fsyncs and use a big page cache while loading; restore after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None  # an open Connection holds its DBAPI connection
    saved = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in SQLITE_PRAGMAS}
    for name, value in SQLITE_PRAGMAS.items():
        raw.execute(f"PRAGMA {name}={value}")
    try:
        yield
    finally:
        for name, value in saved.items():
            raw.execute(f"PRAGMA {name}={int(value)}")


# --- planning ----------------------------------------------------------------------


def make_plan(rng: Random, customers: int, orders: int, territories: int) -> Plan:
    """Decide each customer's type, priority and territory, then share out the orders.

    The first customers are fixed so every smart list has members even in a tiny load:
    two HIGH+ACTIVE accounts per territory, then a prospect, an inactive and a churned one.
    """
    anchors = [(ACTIVE, HIGH, i % territories) for i in range(2 * territories)]
    anchors += [(PROSPECT, MEDIUM, 0), (INACTIVE, MEDIUM, 1), (CHURNED, LOW, 2 % territories)]
    account_table = _share_table(ACCOUNT_SHARES)
    priority_table = _share_table(PRIORITY_SHARES)
    plan = Plan(bytearray(customers), bytearray(customers), bytearray(customers), [])
    weights = [0] * customers
    rnd = rng.random
    for i in range(customers):
        if i < len(anchors):
            account, priority, territory = anchors[i]
        else:
            account = account_table[int(rnd() * 100)]
            priority = priority_table[int(rnd() * 100)]
            territory = int(rnd() * territories)
        plan.account[i], plan.priority[i], plan.territory[i] = account, priority, territory
        jitter = 50 + int(rnd() * 101)
        weights[i] = ACCOUNT_WEIGHT[account] * PRIORITY_WEIGHT[priority] * jitter
    plan.orders = spread(orders, weights)
    return plan


def _share_table(shares: Sequence[tuple[_V, int]]) -> list[_V]:
    return [value for value, share in shares for _ in range(share)]


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to integer weights; the parts add up exactly."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0] * len(weights)
    parts, cumulative, given = [], 0, 0
    for weight in weights:
        cumulative += weight
        upto = total * cumulative // weight_sum
        parts.append(upto - given)
        given = upto
    return parts


# --- values per database -------------------------------------------------------------


class Values:
    """Column values in the form the driver stores them, as SQLAlchemy would write them.

    SQLite keeps dates and times as ISO strings and Numeric as REAL; PostgreSQL gets
    native objects. Dates are days before today (cached: there are only a few hundred).
    """

    placeholder = "%s"

    def __init__(self, today: date) -> None:
        self.today = today
        self._days: dict[int, Any] = {}

    @staticmethod
    def for_dialect(name: str) -> Values:
        today = utcnow().date()
        if name == "sqlite":
            return SqliteValues(today)
        if name == "postgresql":
            return Values(today)  # PostgreSQL takes native objects
        raise click.ClickException(f"demo load supports SQLite and PostgreSQL, not {name}")

    def day(self, days_ago: int) -> Any:
        value = self._days.get(days_ago)
        if value is None:
            value = self._days[days_ago] = self._day(self.today - timedelta(days=days_ago))
        return value

    def _day(self, day: date) -> Any:
        return day

    def stamp(self, days_ago: int, minute: int) -> Any:
        day = self.today - timedelta(days=days_ago)
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=UTC)

    def money(self, cents: int) -> Any:
        return Decimal(cents).scaleb(-2)

    def clock(self, hour: int, minute: int = 0) -> Any:
        return daytime(hour, minute)

    def json(self, value: dict[str, Any]) -> Any:
        from psycopg.types.json import Json

        return Json(value)


class SqliteValues(Values):
    placeholder = "?"

    def _day(self, day: date) -> str:
        return day.isoformat()

    def stamp(self, days_ago: int, minute: int) -> str:
        return f"{self.day(days_ago)} {minute // 60:02d}:{minute % 60:02d}:00.000000"

    def money(self, cents: int) -> float:
        return cents / 100

    def clock(self, hour: int, minute: int = 0) -> str:
        return f"{hour:02d}:{minute:02d}:00.000000"

    def json(self, value: dict[str, Any]) -> str:
        return json.dumps(value)


def public_ids(prefix: str, count: int) -> list[str]:
    """``count`` ids shaped like :func:`app.ids.new_public_id`, from one urandom call."""
    raw = base64.urlsafe_b64encode(os.urandom(12 * count)).decode()
    head = prefix + "_"
    return [head + raw[k : k + 16] for k in range(0, 16 * count, 16)]


# --- generation --------------------------------------------------------------------


class Generator:
    """Builds rows chunk by chunk; state kept across chunks is small (ids, used emails)."""

    def __init__(self, rng: Random, values: Values, refs: Refs, plan: Plan, first_id: int):
        self.rng, self.values, self.refs, self.plan = rng, values, refs, plan
        self.first_id = first_id
        self.next_order_id = 1
        self.lines_written = 0
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()
        self.email_suffix: dict[str, int] = {}
        cheapest = min(refs.sku_cents)
        # SKU popularity: everyday wines sell more than the expensive bottles.
        self.sku_table = [
            i
            for i, cents in enumerate(refs.sku_cents)
            for _ in range(max(1, round(12 * (cheapest / cents) ** 0.6)))
        ]
        self.venue_table = _share_table(cat.VENUE_WEIGHTS)
        self.prices = [values.money(cents) for cents in refs.sku_cents]

    def chunk(self, lo: int, hi: int) -> Chunk:
        out = Chunk()
        windows = [self.customer(i, out) for i in range(lo, hi)]
        cus = public_ids("cus", len(out.customers))
        out.customers = [(r[0], pid, *r[2:]) for r, pid in zip(out.customers, cus, strict=True)]
        count = sum(self.plan.orders[lo:hi])
        ids = iter(public_ids("ord", count))
        for i, window in zip(range(lo, hi), windows, strict=True):
            self.orders(i, window, ids, out)
        acts = public_ids("act", len(out.activities))
        out.activities = [(pid, *row) for pid, row in zip(acts, out.activities, strict=True)]
        return out

    # customers

    def customer(self, i: int, out: Chunk) -> tuple[int, int]:
        """Append customer ``i`` (with consent and activities); return its order window."""
        rng, v, plan = self.rng, self.values, self.plan
        cid = self.first_id + i
        account, priority, t = plan.account[i], plan.priority[i], plan.territory[i]
        spec = cat.TERRITORIES[t]
        city = spec.cities[int(rng.random() * len(spec.cities))]
        venue = self.venue_table[int(rng.random() * len(self.venue_table))]
        name = self.venue_name(venue, city.name)
        email = self.email(name, venue, city.name)
        phone = self.phone(city.area_codes)
        window = order_window(rng, account)
        since = window[1] + int(rng.random() * 60) if account != PROSPECT else window[1]
        created = v.stamp(since, 600 + int(rng.random() * 600))
        reps = self.refs.reps[t]
        rep = reps[int(rng.random() * len(reps))]
        out.customers.append(
            (
                cid,
                None,  # public id, filled below in bulk
                name,
                email,
                phone,
                ACCOUNT_TYPES[account],
                ACCOUNT_PRIORITIES[priority],
                self.refs.territory_ids[t],
                rep,
                v.json(self.custom_fields(venue, city.name)),
                v.money(0),
                None,
                created,
                created,
            )
        )
        self.consent(cid, (email, phone), since, spec.timezone, created, out)
        self.activities(cid, rep, account, out)
        return window

    def venue_name(self, venue: str, city: str) -> str:
        rng = self.rng
        pattern = rng.choice(cat.NAME_PATTERNS[venue])
        noun, noun2 = rng.sample(cat.NOUNS, 2)
        surname, surname2 = rng.sample(cat.SURNAMES, 2)
        return pattern.format(
            adj=rng.choice(cat.ADJECTIVES),
            noun=noun,
            noun2=noun2,
            surname=surname,
            surname2=surname2,
            given=rng.choice(cat.GIVEN_NAMES),
            street=rng.choice(cat.STREETS),
            italian=rng.choice(cat.ITALIAN_WORDS),
            french=rng.choice(cat.FRENCH_WORDS),
            city=city,
        )

    def email(self, name: str, venue: str, city: str) -> str:
        """A unique, lower-case address on a reserved example domain."""
        rng = self.rng
        slug = _slug(name)
        last = _slug(rng.choice(cat.SURNAMES)).replace("-", "")
        box = rng.choice(cat.MAILBOXES[venue]).format(
            first=rng.choice(cat.CONTACT_FIRST), last=last
        )
        shared = rng.random() < 0.2
        domain = rng.choice(cat.SHARED_DOMAINS) if shared else None

        def build(key: str) -> str:
            return f"{key}@{domain}" if shared else f"{box}@{key}.example"

        email = build(slug)
        if email in self.used_emails:
            email = build(f"{slug}-{_slug(city)}")
        while email in self.used_emails:
            n = self.email_suffix.get(email, 1) + 1
            self.email_suffix[email] = n
            email = build(f"{slug}-{_slug(city)}-{n}")
        self.used_emails.add(email)
        return email

    def phone(self, area_codes: Sequence[int]) -> str:
        """A valid, unused E.164 US number in one of the city's area codes."""
        rnd = self.rng.random
        while True:
            area = area_codes[int(rnd() * len(area_codes))]
            exchange = EXCHANGES[int(rnd() * len(EXCHANGES))]
            number = f"+1{area}{exchange}{int(rnd() * 10_000):04d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def custom_fields(self, venue: str, city: str) -> dict[str, Any]:
        rng = self.rng
        fields: dict[str, Any] = {
            "venue_type": venue,
            "city": city,
            "wine_club": rng.random() < (0.45 if venue == "bottle shop" else 0.15),
            "preferred_varietal": rng.choice(cat.VARIETAL_PREFERENCES),
        }
        if venue != "bottle shop":
            fields["seats"] = rng.choice((24, 32, 40, 48, 60, 80, 120, 180))
        return fields

    def consent(
        self, cid: int, addresses: tuple[str, str], since: int, tz: str, created: Any, out: Chunk
    ) -> None:
        """The preference row (contact window and zone), and for every opt-in and opt-out
        a ledger entry and the address's current consent."""
        rng, v = self.rng, self.values
        for channel, address, opted_in, unknown in (
            ("email", addresses[0], 0.80, 0.95),
            ("sms", addresses[1], 0.65, 0.92),
        ):
            r = rng.random()
            status = "opted_in" if r < opted_in else "unknown" if r < unknown else "opted_out"
            if status == "unknown":
                continue
            source = _consent_source(rng, channel, status)
            at = v.stamp(int(rng.random() * (since + 1)), int(rng.random() * 1440))
            out.consents.append((cid, channel, address, status, source, at))
            out.consent_heads.append((channel, address, status, source, cid, at, at))
        start = end = None
        if rng.random() < 0.3:
            start = v.clock(8 + int(rng.random() * 4))
            end = v.clock(14 + int(rng.random() * 4))
        out.preferences.append((cid, start, end, tz, created, created))

    def activities(self, cid: int, rep: int, account: int, out: Chunk) -> None:
        """A few timeline entries for about a third of the customers."""
        rng, v = self.rng, self.values
        if rng.random() >= 0.35:
            return
        oldest = 120 if account != CHURNED else 400
        for _ in range(1 + int(rng.random() * 3)):
            kind = rng.choice(("Note", "Email", "SMS", "Call"))
            at = v.stamp(int(rng.random() * oldest), 840 + int(rng.random() * 540))
            subject = body = notes = None
            direction = "sent"
            if kind == "Note":
                notes = rng.choice(cat.NOTES)
            elif kind == "Email":
                subject = rng.choice(cat.EMAIL_SUBJECTS)
                body = f"Hi there,\n\n{subject}: details attached.\n\nCheers"
            elif kind == "SMS":
                body, direction = rng.choice(cat.SMS_REPLIES), "received"
            else:
                notes = rng.choice(cat.CALL_NOTES)
            out.activities.append((cid, rep, kind, subject, body, direction, at, notes))

    # orders

    def orders(self, i: int, window: tuple[int, int], ids: Iterator[str], out: Chunk) -> None:
        """Customer ``i``'s orders, oldest first, the newest exactly on the window's end."""
        n = self.plan.orders[i]
        if not n:
            return
        rnd, v = self.rng.random, self.values
        end, start = window
        span = start - end + 1
        days = [end] + [end + int(rnd() * span) for _ in range(n - 1)]
        days.sort(reverse=True)
        quantities = LINE_QUANTITIES[self.plan.priority[i]]
        sku_table, sku_ids, sku_cents = self.sku_table, self.refs.sku_ids, self.refs.sku_cents
        prices = self.prices
        n_skus, cid = len(sku_ids), self.first_id + i
        orders_append, lines_append = out.orders.append, out.lines.append
        for days_ago in days:
            oid = self.next_order_id
            self.next_order_id += 1
            total, picked = 0, []
            for _ in range(LINES_PER_ORDER[int(rnd() * 20)]):
                if self.lines_written < n_skus:  # every SKU gets ordered at least once
                    sku = self.lines_written
                else:
                    sku = sku_table[int(rnd() * len(sku_table))]
                    if sku in picked:
                        continue
                self.lines_written += 1
                picked.append(sku)
                qty = quantities[int(rnd() * len(quantities))]
                total += qty * sku_cents[sku]
                lines_append((oid, sku_ids[sku], qty, prices[sku]))
            status = "delivered" if days_ago > 2 else "shipped"
            stamp = v.stamp(days_ago, 780 + int(rnd() * 480))
            orders_append(
                (oid, next(ids), cid, v.day(days_ago), status, v.money(total), stamp, stamp)
            )


def order_window(rng: Random, account: int) -> tuple[int, int]:
    """(newest, oldest) order age in days for an account type.

    ACTIVE accounts ordered within ~3 months (most within 30 days), INACTIVE ones 3-10
    months ago, CHURNED ones longer ago; prospects get a "customer since" age only.
    """
    rnd = rng.random
    if account == ACTIVE:
        r = rnd()
        newest = int(rnd() * 30) + (0 if r < 0.7 else 30 if r < 0.9 else 60)
        oldest = max(newest + 30, 120 + int(rnd() * (HISTORY_DAYS - 119)))
    elif account == INACTIVE:
        newest = 91 + int(rnd() * 210)
        oldest = newest + int(rnd() * (HISTORY_DAYS - newest))
    elif account == CHURNED:
        newest = 181 + int(rnd() * 300)
        oldest = newest + int(rnd() * (HISTORY_DAYS - newest))
    else:
        newest = oldest = int(rnd() * 365)
    return newest, min(oldest, HISTORY_DAYS)


def _consent_source(rng: Random, channel: str, status: str) -> str:
    if status == "opted_out":
        return "unsubscribe" if channel == "email" else "STOP"
    if channel == "email":
        return rng.choice(("signup_form", "trade_show", "rep", "import"))
    return rng.choice(("keyword", "rep", "signup_form"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-")


# --- writing -----------------------------------------------------------------------

# Table -> columns, in the order the generator builds the tuples.
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id", "public_id", "name", "email", "phone", "account_type", "account_priority",
        "territory_id", "rep_id", "custom_fields", "lifetime_revenue", "last_order_date",
        "created_at", "updated_at",
    ),
    "communication_preference": (
        "customer_id", "preferred_contact_start", "preferred_contact_end", "timezone",
        "created_at", "updated_at",
    ),
    "consent": (
        "channel", "address", "status", "source", "customer_id", "obtained_at", "changed_at",
    ),
    "consent_change": ("customer_id", "channel", "address", "status", "source", "changed_at"),
    "activity": (
        "public_id", "customer_id", "user_id", "type", "subject", "body", "direction",
        "occurred_at", "notes",
    ),
    "order": (
        "id", "public_id", "customer_id", "order_date", "status", "total", "created_at",
        "updated_at",
    ),
    "order_line": ("order_id", "sku_id", "quantity", "unit_price"),
}  # fmt: skip
CHUNK_TABLES = (
    ("customer", "customers"),
    ("communication_preference", "preferences"),
    ("consent_change", "consents"),
    ("consent", "consent_heads"),
    ("activity", "activities"),
    ("order", "orders"),
    ("order_line", "lines"),
)


class BulkWriter:
    """executemany per table and chunk; counts rows and reports progress."""

    def __init__(self, conn: Connection, echo: Callable[[str], Any]) -> None:
        self.conn, self.echo = conn, echo
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        self.sql = {
            table: f'INSERT INTO "{table}" ({", ".join(cols)}) '
            f"VALUES ({', '.join([mark] * len(cols))})"
            for table, cols in COLUMNS.items()
        }
        self.counts = {attr: 0 for _, attr in CHUNK_TABLES}
        self.started = self.reported = clock.perf_counter()

    def write(self, chunk: Chunk) -> None:
        for table, attr in CHUNK_TABLES:
            rows = getattr(chunk, attr)
            if rows:
                self.conn.exec_driver_sql(self.sql[table], rows)
                self.counts[attr] += len(rows)

    def progress(self, done: int, total: int) -> None:
        now = clock.perf_counter()
        if done < total and now - self.reported < 5:
            return
        self.reported = now
        rows = sum(self.counts.values())
        self.echo(
            f"  {done:,}/{total:,} customers, {self.counts['orders']:,} orders, "
            f"{self.counts['lines']:,} lines: {rows:,} rows "
            f"({rows / max(now - self.started, 1e-9):,.0f} rows/s)"
        )
