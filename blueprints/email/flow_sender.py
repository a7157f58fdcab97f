"""The email channel's side of a flow's send step (app/flows/senders.py): for a set of
(customer, run) pairs, one INSERT ... SELECT of queued messages from the runs and their
customers' addresses, each marked with its run and template; not committed (the flow
engine commits them with the step's records).

Like a campaign's rows, a flow's messages keep no body: the delivery engine renders each
from its template at send time (:func:`blueprints.email.sending.build_messages`), so the
customer's tokens, the unsubscribe link and consent are those of the moment it goes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import insert, literal, select

from app.crm.models import Customer
from app.extensions import db
from app.flows.models import FlowRun
from app.flows.senders import FlowSender, Queued, register
from app.models_base import utcnow
from app.sets import among
from blueprints.email.domains import consumer_clause
from blueprints.email.models import EmailMessage
from blueprints.email.sending import public_id_sql

TABLE = EmailMessage.__table__
COLUMNS = (
    "public_id",
    "customer_id",
    "template_id",
    "to_address",
    "consumer_mailbox",
    "flow_run_id",
    "status",
    "attempts",
    "open_count",
    "click_count",
    "created_at",
    "updated_at",
)


def queue_many(template: Any, pairs: Sequence[tuple[int, int]]) -> Queued:
    """A queued message per run whose customer has an address (the others are left out:
    the engine records them as skipped for want of one)."""
    if not pairs:
        return {}
    now = utcnow()
    source = (
        select(
            public_id_sql(FlowRun.id),
            Customer.id,
            literal(template.id),
            Customer.email,
            consumer_clause(Customer.email),
            FlowRun.id,
            literal("queued"),
            literal(0),
            literal(0),
            literal(0),
            literal(now),
            literal(now),
        )
        .select_from(FlowRun)
        .join(Customer, Customer.id == FlowRun.customer_id)
        .where(
            among(FlowRun.id, sorted({run_id for _customer_id, run_id in pairs})),
            Customer.email.is_not(None),
            Customer.email != "",
        )
    )
    made = db.session.execute(
        insert(TABLE).from_select(list(COLUMNS), source).returning(TABLE.c.id, TABLE.c.flow_run_id)
    )
    return {run_id: message_id for message_id, run_id in made}


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="email", queue_many=queue_many))
