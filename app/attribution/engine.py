"""Credit orders to the messages that led to them: last human touch within a window.

For distributors, orders are keyed in by reps or imported from the ERP, often days
later, and credit belongs to the account (any contact of the customer), so attribution
is recomputed from the data rather than recorded at checkout: whenever a customer's
orders change (an import, the API), that customer's orders are credited again.

The rule: an order placed on day D is credited to the customer's human touches (clicks,
human opens, replies: :mod:`app.attribution.touches`) made before the end of D and no
earlier than the touch kind's window (email click 5 days, email open 1 day, SMS reply
5 days by default; ``ATTRIBUTION_<KIND>_DAYS``). The latest such touch is
``attributed``; every other one ``influenced``. At the same moment the higher-ranked
kind wins (an SMS reply, then a click, then an open), then the greater message id.
Cancelled and returned orders earn none. Orders carry a date, not a time, so a touch
later on the order's own day still counts.

An order that carries UTM data naming a Decant campaign (``utm_campaign`` is the public id
our tracked links add: :mod:`app.attribution.utm`) is credited to that campaign first
(kind ``utm``): the visit it came from says so better than any touch. Its touches in
their windows are then all ``influenced``.

Work is set-based per chunk of customers: one SELECT joins their orders with the touches
in each kind's window (a channel's kinds read together in one pass when it registered a
:class:`~app.attribution.touches.TouchGroup`) and picks each order's last touch with
ROW_NUMBER. Customers not credited yet get its rows by one INSERT ... SELECT; otherwise
its rows are compared with theirs and only the difference is written (most imports send
orders again unchanged, and rewriting every row and its index entries cost more than
reading them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    CompoundSelect,
    Executable,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)

from app.attribution.models import ATTRIBUTED, INFLUENCED, UTM, OrderTouch
from app.attribution.touches import CustomerIds, TouchGroup, TouchSource, groups, sources
from app.crm.models import Order
from app.extensions import db
from app.messaging.models import Campaign
from app.moments import day_plus, utc_day, week_start

#: a SELECT of any columns
Rows = Select[*tuple[Any, ...]]
#: the rows a chunk of customers is credited with (a UNION of SELECTs)
Credited = Rows | CompoundSelect[*tuple[Any, ...]]
UNCREDITED_STATUSES = ("cancelled", "returned")
CHUNK = 2000
DAY = 86400
#: the columns written, in the order every SELECT below gives them
COLUMNS = (
    "order_id", "customer_id", "order_date", "order_week", "total", "campaign_id", "channel",
    "kind", "message_ref", "touched_at", "role",
)  # fmt: skip


def _chunks(values: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def attribute_customers(customer_ids: Collection[int]) -> int:
    """Credit again every order of these customers; how many order-touch rows exist now."""
    written = 0
    for part in _chunks(sorted(set(customer_ids)), CHUNK):
        written += _attribute_chunk(part)
        db.session.commit()
    return written


def _attribute_chunk(customer_ids: Sequence[int]) -> int:
    """Write the difference between the rows the rule gives and the rows there are: an
    import that changed a few orders rewrites their rows alone (a row unchanged is kept,
    id and all; a changed one replaced); rows are equal when every column is."""
    ids = {"ids": list(customer_ids)}
    windowed = tuple((s, round(s.window().total_seconds())) for s in sources())
    dialect = db.session.get_bind().dialect.name
    statement = _statement(dialect, windowed, tuple(groups()))
    connection = db.session.connection()
    existing = connection.execute(_existing(dialect), ids).all()
    if not existing:
        # none credited yet (an import's new customers): the rows go straight in
        return int(connection.execute(_written(statement), ids).rowcount or 0)
    wanted = Counter(tuple(row) for row in connection.execute(statement, ids))
    kept: Counter[tuple[Any, ...]] = Counter()
    stale: list[int] = []
    for row_id, *values in existing:
        key = tuple(values)
        if kept[key] < wanted[key]:
            kept[key] += 1
        else:
            stale.append(row_id)
    table = OrderTouch.__table__
    for part in _chunks(stale, CHUNK):
        connection.execute(delete(table).where(table.c.id.in_(part)))
    missing = [dict(zip(COLUMNS, key, strict=True)) for key in (wanted - kept).elements()]
    if missing:
        connection.execute(insert(table), missing)
    return wanted.total()


@lru_cache(maxsize=4)
def _existing(dialect: str) -> Rows:
    table = OrderTouch.__table__
    customers = _customer_ids(dialect)
    return select(table.c.id, *(table.c[name] for name in COLUMNS)).where(
        table.c.customer_id.in_(customers)
    )


@lru_cache(maxsize=16)
def _written(statement: Credited) -> Executable:
    """The INSERT ... SELECT of the statement's rows."""
    written = insert(OrderTouch).from_select(COLUMNS, statement)
    # the count of an INSERT ... SELECT is kept only when asked for (SQLAlchemy 2.1)
    return written.execution_options(preserve_rowcount=True)


@lru_cache(maxsize=16)
def _statement(
    dialect: str,
    windowed: tuple[tuple[TouchSource, int], ...],
    grouped: tuple[TouchGroup, ...],
) -> Credited:
    """The SELECT of the rows for a chunk of customer ids (the parameter ``ids``), in the
    order of :data:`COLUMNS`, built once per dialect, sources, windows and groups:
    building it per chunk cost about as much as running it on SQLite."""
    customers = _customer_ids(dialect)
    touched = union_all(*(_in_window(read, customers) for read in _reads(windowed, grouped)))
    if not touched.selects:
        return _utm_rows(customers)
    return union_all(_ranked(touched.subquery("touched")), _utm_rows(customers))


def _customer_ids(dialect: str) -> CustomerIds:
    """The chunk's customer ids as the statements take them (the parameter ``ids``): on
    SQLite one JSON array read by ``json_each`` (the statement is the same text for every
    chunk, not re-rendered with a thousand parameters each run); elsewhere a list."""
    if dialect == "sqlite":
        array = func.json_each(bindparam("ids", type_=JSON))
        return select(column("value", Integer)).select_from(array)
    return bindparam("ids", expanding=True)


#: one query of touches (a source's, or a group's) and the kinds it gives, with their
#: windows in seconds
Read = tuple[Callable[[CustomerIds], Rows], tuple[tuple[TouchSource, int], ...]]


def _reads(
    windowed: tuple[tuple[TouchSource, int], ...], grouped: tuple[TouchGroup, ...]
) -> list[Read]:
    """The queries to read: a group's for all its kinds (one pass over rows they share),
    each remaining source's own."""
    left = {source.kind: (source, window) for source, window in windowed}
    reads: list[Read] = []
    for group in grouped:
        if group.kinds <= left.keys():
            kinds = tuple(left.pop(kind) for kind in sorted(group.kinds))
            reads.append((group.query, kinds))
    for source, window in left.values():
        reads.append((partial(_unbounded, source), ((source, window),)))
    return reads


def _unbounded(source: TouchSource, customer_ids: CustomerIds) -> Rows:
    return source.query(customer_ids, None, None)


def _creditable() -> list[ColumnElement[bool]]:
    return [Order.status.not_in(UNCREDITED_STATUSES)]


def _by_kind(kind: Any, values: dict[str, Any], make: Callable[[Any], Any] = literal) -> Any:
    """``make(value)`` for the touch's kind: a CASE on the kind, or the one value all
    kinds share."""
    if len(set(values.values())) == 1:
        return make(next(iter(values.values())))
    return case(*((kind == name, make(value)) for name, value in values.items()))


def _in_window(read: Read, customer_ids: CustomerIds) -> Rows:
    """The touches of these customers, each paired with the customer's credited orders
    it falls in the window of: from the touches to the orders, by the (customer, date)
    index over the days a touch counts for (its kind's window)."""
    query, kinds = read
    touch = query(customer_ids).subquery()
    kind = touch.c.kind if len(kinds) > 1 else literal(kinds[0][0].kind)
    windows = {source.kind: window for source, window in kinds}

    def last_day(window: int) -> Any:
        return utc_day(touch.c.touched_at, window - DAY)

    return (
        select(
            Order.id.label("order_id"),
            Order.customer_id,
            Order.order_date,
            week_start(Order.order_date).label("order_week"),
            Order.total,
            touch.c.campaign_id,
            _by_kind(kind, {s.kind: s.channel for s, _ in kinds}).label("channel"),
            kind.label("kind"),
            touch.c.message_ref,
            touch.c.touched_at,
            _by_kind(kind, {s.kind: s.rank for s, _ in kinds}).label("rank"),
            Campaign.id.label("utm_campaign_id"),
        )
        .select_from(touch)
        .join(
            Order,
            and_(
                Order.customer_id == touch.c.customer_id,
                # touched_at in [end of the order's day - window, end of the day), said of
                # the order's date
                Order.order_date >= utc_day(touch.c.touched_at, 0),
                Order.order_date <= _by_kind(kind, windows, last_day),
            ),
        )
        .outerjoin(Campaign, Campaign.public_id == Order.utm_campaign)
        .where(*_creditable())
    )


def _ranked(touched: Any) -> Rows:
    """Each pair as a row: the order's last touch attributed (unless UTM credits the
    order), every other one influenced."""
    last = func.row_number().over(
        partition_by=touched.c.order_id,
        order_by=(touched.c.touched_at.desc(), touched.c.rank.desc(), touched.c.message_ref.desc()),
    )
    role = case(
        (and_(last == 1, touched.c.utm_campaign_id.is_(None)), ATTRIBUTED), else_=INFLUENCED
    )
    return select(*(touched.c[name] for name in COLUMNS[:-1]), role.label("role"))


def _utm_rows(customer_ids: CustomerIds) -> Rows:
    """The credited orders whose UTM names a campaign: attributed to it (the visit, not
    a message; at the start of the order's day)."""
    return (
        select(
            Order.id,
            Order.customer_id,
            Order.order_date,
            week_start(Order.order_date),
            Order.total,
            Campaign.id,
            Campaign.channel,
            literal(UTM),
            literal(""),
            day_plus(Order.order_date, 0),
            literal(ATTRIBUTED),
        )
        .join(Campaign, Campaign.public_id == Order.utm_campaign)
        .where(
            Order.customer_id.in_(customer_ids),
            Order.utm_campaign.is_not(None),  # the partial index's predicate
            *_creditable(),
        )
    )


def attribute_customers_job(customer_ids: list[int]) -> int:
    """The background job (ids, not objects)."""
    return attribute_customers(customer_ids)
