"""Property: after a refresh, a smart list's members are exactly its definition.

Hypothesis generates customers, orders and criteria (nested combinators included); a
plain-Python evaluation of the criterion over the same data is the oracle. One app and
database serve every example: the test deletes its own rows between examples.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from app.crm.models import Customer, Order, OrderLine
from app.extensions import db
from blueprints.lists import criteria as cr
from blueprints.lists import services
from blueprints.lists.models import EmailList, EmailListMember
from tests.blueprints.lists.conftest import today

TERRITORIES = ["North", "South", "East"]
DAYS = [0, 1, 5, 29, 30, 31, 90, 400]
REVENUES = [0, 100, 49999.99, 50000, 70000]
CUSTOM_VALUES = ["coast", "inland", "3", True, False, 3, 3.0, 3.5]
CUSTOM_KEYS = ["region", "vip", "tier"]

customers_st = st.lists(
    st.fixed_dictionaries(
        {
            "territory": st.sampled_from([*TERRITORIES, None]),
            "account_type": st.sampled_from(["ACTIVE", "PROSPECT", "INACTIVE", "CHURNED"]),
            "account_priority": st.sampled_from(["HIGH", "MEDIUM", "LOW"]),
            "revenue": st.sampled_from(REVENUES),
            "custom": st.dictionaries(
                st.sampled_from(CUSTOM_KEYS), st.sampled_from(CUSTOM_VALUES), max_size=3
            ),
            "orders": st.lists(
                st.tuples(st.sampled_from([0, 1]), st.sampled_from(DAYS)), max_size=3
            ),
        }
    ),
    max_size=8,
)

leaves = st.one_of(
    st.builds(lambda t: {"type": "all_in_territory", "territory": t}, st.sampled_from(TERRITORIES)),
    st.builds(
        lambda r: {"type": "high_value", "minRevenue": r}, st.sampled_from([0, 100, 50000, 60000])
    ),
    st.builds(
        lambda s, d: {"type": "ordered_product", "skuId": s, **({"withinDays": d} if d else {})},
        st.sampled_from([0, 1]),
        st.sampled_from([None, 1, 30, 100]),
    ),
    st.builds(lambda d: {"type": "no_order_in_days", "days": d}, st.sampled_from([1, 30, 31, 365])),
    st.builds(
        lambda a: {"type": "account_type", "accountType": a},
        st.sampled_from(["ACTIVE", "PROSPECT", "CHURNED"]),
    ),
    st.builds(
        lambda p: {"type": "account_priority", "accountPriority": p},
        st.sampled_from(["HIGH", "LOW"]),
    ),
    st.builds(
        lambda q: {"type": "custom", "customQuery": q},
        st.dictionaries(
            st.sampled_from([*CUSTOM_KEYS, "accountPriority"]),
            st.sampled_from(CUSTOM_VALUES),
            min_size=1,
            max_size=2,
        ).map(lambda q: {k: ("HIGH" if k == "accountPriority" else v) for k, v in q.items()}),
    ),
)
criteria_st = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)


def _depth(c: dict[str, Any]) -> int:
    kids = c.get("all") or c.get("any") or ([c["not"]] if "not" in c else [])
    return 1 + max((_depth(k) for k in kids), default=0)


def _depth_ok(c: dict[str, Any]) -> bool:
    return _depth(c) <= cr.MAX_DEPTH


def _same(stored: Any, wanted: Any) -> bool:
    """JSON equality with types kept apart: True is not 1 and "3" is not 3."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(wanted, bool) and isinstance(stored, bool) and stored == wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and stored == wanted
    return isinstance(stored, str) and stored == wanted


def evaluate(c: dict[str, Any], row: dict[str, Any], skus: list[int]) -> bool:
    if "all" in c:
        return all(evaluate(x, row, skus) for x in c["all"])
    if "any" in c:
        return any(evaluate(x, row, skus) for x in c["any"])
    if "not" in c:
        return not evaluate(c["not"], row, skus)
    kind = c["type"]
    if kind == "all_in_territory":
        return row["territory"] == c["territory"]
    if kind == "high_value":
        return Decimal(str(row["revenue"])) >= Decimal(str(c["minRevenue"]))
    if kind == "ordered_product":
        within = c.get("withinDays")
        return any(
            sku == c["skuId"] and (within is None or days <= within) for sku, days in row["orders"]
        )
    if kind == "no_order_in_days":
        return not any(days <= c["days"] for _, days in row["orders"])
    if kind == "account_type":
        return row["account_type"] == c["accountType"]
    if kind == "account_priority":
        return row["account_priority"] == c["accountPriority"]
    if kind == "custom":
        for key, wanted in c["customQuery"].items():
            if key == "accountPriority":
                if row["account_priority"] != wanted:
                    return False
            elif key not in row["custom"] or not _same(row["custom"][key], wanted):
                return False
        return True
    raise AssertionError(kind)


def _clear() -> None:
    for model in (EmailListMember, EmailList, OrderLine, Order, Customer):
        db.session.execute(delete(model))
    db.session.commit()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=customers_st,
    criterion=criteria_st.filter(_depth_ok),
    as_rep=st.booleans(),
    by_code=st.booleans(),
    slice_size=st.sampled_from([1, 3, 5_000]),
    stale=st.sets(st.integers(0, 7)),
)
def test_membership_equals_definition(
    app, territories, make_sku, manager, rep, rows, criterion, as_rep, by_code, slice_size, stale
):
    """Also: SKUs named by code or public id, refreshes writing batches of 1, 3 or 5,000
    members, and stale members (on the list before the refresh) taken off."""
    _clear()
    app.config["LIST_REFRESH_SLICE"] = slice_size
    if not hasattr(app, "_property_skus"):
        app._property_skus = [make_sku("P-1"), make_sku("P-2")]
    skus = app._property_skus
    sku_ids = [s.id for s in skus]
    ids = []
    for i, row in enumerate(rows):
        customer = Customer(
            name=f"P{i}",
            email=f"p{i}@example.com",
            territory_id=territories[row["territory"]].id if row["territory"] else None,
            account_type=row["account_type"],
            account_priority=row["account_priority"],
            lifetime_revenue=Decimal(str(row["revenue"])),
            custom_fields=row["custom"],
        )
        db.session.add(customer)
        db.session.flush()
        for sku_index, days in row["orders"]:
            order = Order(customer_id=customer.id, order_date=today() - timedelta(days=days))
            order.lines.append(
                OrderLine(sku_id=sku_ids[sku_index], quantity=1, unit_price=Decimal("1"))
            )
            db.session.add(order)
        ids.append(customer.id)
    db.session.commit()

    def with_sku_ids(c: Any) -> Any:
        if isinstance(c, dict):
            out = {k: with_sku_ids(v) for k, v in c.items()}
            if c.get("type") == "ordered_product":
                sku = skus[c["skuId"]]
                out["skuId"] = sku.code if by_code else sku.public_id
            return out
        if isinstance(c, list):
            return [with_sku_ids(x) for x in c]
        return c

    user = rep if as_rep else manager
    definition = with_sku_ids(criterion)
    if as_rep:  # reps may only name their own territory
        definition = _only_north(definition)
        criterion = _only_north(criterion)
    node = cr.parse(definition)
    lst = services.create_list(user, "property", None, node)
    for i in sorted(stale & set(range(len(ids)))):
        db.session.add(EmailListMember(list_id=lst.id, customer_id=ids[i]))
    db.session.commit()
    services.refresh(lst.id)
    services.refresh(lst.id)  # idempotent
    members = set(
        db.session.scalars(
            select(EmailListMember.customer_id).where(EmailListMember.list_id == lst.id)
        )
    )
    oracle_rows = [
        {**row, "orders": [(sku_index, days) for sku_index, days in row["orders"]]} for row in rows
    ]
    expected = {
        ids[i]
        for i, row in enumerate(oracle_rows)
        if evaluate(criterion, row, sku_ids) and (not as_rep or row["territory"] == "North")
    }
    assert members == expected
    assert db.session.get(EmailList, lst.id).member_count == len(expected)


def _only_north(c: Any) -> Any:
    if isinstance(c, dict):
        out = {k: _only_north(v) for k, v in c.items()}
        if c.get("type") == "all_in_territory":
            out["territory"] = "North"
        return out
    if isinstance(c, list):
        return [_only_north(x) for x in c]
    return c
