"""The customers table's sortable columns, shared by the page and the API."""

from __future__ import annotations

from sqlalchemy import case, func, select

from app.crm.models import Customer, Territory
from app.tables import TableSpec

#: What the customers table may sort by (search is the service's ``q``).
CUSTOMERS_TABLE = TableSpec(
    columns={
        "name": func.lower(Customer.name),
        "email": func.lower(Customer.email),
        "territory": select(Territory.name)
        .where(Territory.id == Customer.territory_id)
        .scalar_subquery(),
        "type": Customer.account_type,
        "priority": case({"HIGH": 1, "MEDIUM": 2, "LOW": 3}, value=Customer.account_priority),
        "revenue": Customer.lifetime_revenue,
        "lastOrder": Customer.last_order_date,
        "engagement": Customer.engagement_score,
    },
    default_sort="name",
    tiebreak=Customer.id,
    desc_first=frozenset({"revenue", "lastOrder", "engagement"}),
)
