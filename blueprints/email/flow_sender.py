"""The email channel's side of a flow's send step (app/flows/senders.py): for a set of
(customer, run) pairs, one INSERT of the messages marked with their runs, each rendered
from the template with its own tracking tokens, the bodies written by one executemany
UPDATE and the links in one insert; not committed (the flow engine commits them with the
step's records)."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, insert, select, update

from app.crm.models import Customer
from app.extensions import db
from app.flows.senders import FlowSender, Queued, register
from app.ids import new_public_ids
from app.messaging.contexts import customer_contexts
from app.models_base import utcnow
from blueprints.email import links, sending
from blueprints.email.models import EmailMessage

TABLE = EmailMessage.__table__


def queue_many(template: Any, pairs: Sequence[tuple[int, int]]) -> Queued:
    runs_of: dict[int, list[int]] = {}
    for customer_id, run_id in pairs:
        runs_of.setdefault(customer_id, []).append(run_id)
    addresses = dict(
        db.session.execute(
            select(Customer.id, Customer.email).where(
                Customer.id.in_(list(runs_of)), Customer.email.is_not(None), Customer.email != ""
            )
        ).all()
    )
    wanted = [(c, r, addresses[c]) for c, r in pairs if c in addresses]
    if not wanted:
        return {}
    now = utcnow()
    rows = [
        {
            "public_id": public_id,
            "customer_id": customer_id,
            "template_id": template.id,
            "to_address": address,
            "flow_run_id": run_id,
            "status": "queued",
            "attempts": 0,
            "open_count": 0,
            "click_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        for public_id, (customer_id, run_id, address) in zip(
            new_public_ids(EmailMessage.id_prefix, len(wanted)), wanted, strict=True
        )
    ]
    made = db.session.execute(  # executemany: one compiled statement, batched by the driver
        insert(TABLE).returning(TABLE.c.id, TABLE.c.flow_run_id, TABLE.c.customer_id), rows
    ).all()
    contexts = customer_contexts({c for c, _r, _a in wanted})
    # prepared once for the set, as a campaign's (render_for when the template's shape
    # may vary per customer); each message numbers its own links 0..n
    prepared = sending.prepare_template(template.html or "", current_app.config["PUBLIC_BASE_URL"])
    numbers = range(len(prepared.links)) if prepared is not None else range(0)
    queued: Queued = {}
    bodies: list[dict[str, Any]] = []
    stored: dict[int, list[str]] = {}
    failed: list[int] = []
    for message_id, run_id, customer_id in made:
        address = str(addresses[customer_id])
        try:
            if prepared is not None:
                context = {
                    **contexts[customer_id],
                    **sending.send_values(message_id, address, template.html or ""),
                }
                rendered, _parts = sending.render_prepared(
                    message_id, template.subject or "", prepared, context, numbers
                )
            else:
                message = SimpleNamespace(id=message_id, to_address=address)
                rendered = sending.render_for(
                    message, template.subject or "", template.html or "", contexts[customer_id]
                )
        except Exception as exc:  # noqa: BLE001 - a template that cannot render skips the step
            queued[run_id] = f"cannot render: {exc}"
            failed.append(message_id)
            continue
        bodies.append(
            {"i": message_id, "s": rendered.subject, "h": rendered.html, "t": rendered.text}
        )
        stored[message_id] = list(rendered.links)
        queued[run_id] = message_id
    if failed:
        db.session.execute(delete(TABLE).where(TABLE.c.id.in_(failed)))
    if bodies:
        db.session.execute(
            update(TABLE)
            .where(TABLE.c.id == bindparam("i"))
            .values(subject=bindparam("s"), html=bindparam("h"), text=bindparam("t")),
            bodies,
        )
        links.store_message_links(stored)
    return queued


def register_flow_sender(app: Flask) -> None:
    register(app, FlowSender(channel="email", queue_many=queue_many))
