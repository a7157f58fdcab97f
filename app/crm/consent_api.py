"""/api/sales/consent-changes: the consent ledger read back by the host CRM.

Every opt-in and opt-out Decant recorded (from a page, the API, an unsubscribe link, a
STOP text, a bounce...), oldest first, so a CRM keeps its own flags in step. Ledger
entries never change once written, so a cursor alone returns exactly the entries
recorded after it (as for activities)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint
from flask_login import current_user
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.errors import not_found
from app.api.pagination import PageQuery, paginate
from app.api.spec import ApiResponse, OutModel, api, responses
from app.crm import readback
from app.crm.models import ConsentChange, Customer
from app.crm.schemas import ChangesPage
from app.crm.scoping import get_visible_customer, visible_customer_ids
from app.extensions import db
from app.messaging.consent import change_json

bp = Blueprint("crm_consent_api", __name__, url_prefix="/api/sales")


class ConsentChangeQuery(PageQuery, readback.ChangesQuery):
    customer_id: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=16)


class ConsentChangeOut(OutModel):
    id: int
    customer_id: str | None
    customer_external_id: str | None
    channel: str
    address: str
    status: str
    source: str
    method: str | None
    wording: str | None
    evidence: str | None
    recorded_by: str | None
    obtained_at: datetime | None
    recorded_at: datetime
    effective: bool


class ConsentChangePage(ChangesPage):
    items: list[ConsentChangeOut]
    total: int
    page: int
    per_page: int


def _json(entries: list[ConsentChange]) -> list[dict[str, Any]]:
    """Entries with their customer's ids, read in one query for the page."""
    ids = {e.customer_id for e in entries if e.customer_id is not None}
    customers = {
        row.id: (row.public_id, row.external_id)
        for row in db.session.execute(
            select(Customer.id, Customer.public_id, Customer.external_id).where(
                Customer.id.in_(ids)
            )
        )
    }
    items = []
    for entry in entries:
        public_id, external_id = customers.get(entry.customer_id, (None, None))
        items.append(
            {
                "id": entry.id,
                "customerId": public_id,
                "customerExternalId": external_id,
                **change_json(entry),
            }
        )
    return items


@bp.get("/consent-changes")
@api.validate(
    query=ConsentChangeQuery,
    resp=responses(HTTP_200=ConsentChangePage, HTTP_404=None),
    tags=["customers"],
)
def list_consent_changes(query: ConsentChangeQuery) -> ApiResponse:
    """The consent ledger: every opt-in and opt-out recorded, newest first; `effective`
    false marks an entry that did not change the state (a repeat, an older consent).

    Reps see the entries of their territory's customers; managers and admins also see
    addresses that belong to no customer. With `updatedSince` (entries recorded since)
    or `cursor`: oldest first, with `nextCursor`."""
    stmt = (
        select(ConsentChange)
        .options(selectinload(ConsentChange.recorded_by))
        .order_by(ConsentChange.changed_at.desc(), ConsentChange.id.desc())
    )
    if not current_user.sees_all_territories:
        stmt = stmt.where(ConsentChange.customer_id.in_(visible_customer_ids(current_user)))
    if query.customer_id:
        customer = get_visible_customer(query.customer_id, current_user)
        if customer is None:
            raise not_found("customer", field="customerId")
        stmt = stmt.where(ConsentChange.customer_id == customer.id)
    if query.channel:
        stmt = stmt.where(ConsentChange.channel == query.channel)
    if readback.wants_changes(query):
        page = readback.changes(
            stmt,
            query,
            query.per_page,
            lambda entry: entry,
            kind="consent-changes",
            model=ConsentChange,
            time_column=None,
            since_column=ConsentChange.changed_at,
        )
    else:
        page = paginate(stmt, query.page, query.per_page, lambda entry: entry)
    page["items"] = _json(page["items"])
    return page
