"""List logic: visibility, CRUD, set-based refresh, members, CSV import and export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from functools import partial
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from app.api import busy
from app.auth.models import User
from app.crm.models import Customer, Territory
from app.crm.scoping import customer_filter, scope_customers
from app.current import app_object
from app.engagement import sunset
from app.errors import Conflict, Invalid, invalid
from app.extensions import UNSYNCED, db
from app.messaging import topics
from app.messaging.models import Campaign
from app.models_base import utcnow
from app.signals import list_members_added
from blueprints.lists import criteria as cr
from blueprints.lists.models import EmailList, EmailListMember

SAMPLE_SIZE = 50
CHUNK = 500
#: members a refresh adds or removes per short transaction (LIST_REFRESH_SLICE)
REFRESH_SLICE = 5_000
#: campaign statuses that will still read the list (a paused one may be resumed)
CAMPAIGNS_IN_PROGRESS = ("scheduled", "preparing", "sending", "paused")
#: the id column of an export; when a row has an id, it is matched by it, not by email
ID_COLUMNS = {"customer_id", "customerid", "customer_public_id"}
#: what an export prefixes with a quote so that spreadsheets do not run it as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EMAIL_COLUMNS = {"email", "e-mail", "e_mail", "email address", "emailaddress"}


# --- visibility ----------------------------------------------------------------------


def visible_lists(user: User) -> Select[Any]:
    """Managers and admins see every list; a rep sees the lists they own."""
    stmt = select(EmailList)
    if not user.sees_all_territories:
        stmt = stmt.where(EmailList.owner_id == user.id)
    return stmt.order_by(EmailList.name, EmailList.id)


def get_list(public_id: str, user: User) -> EmailList | None:
    """A list ``user`` may see (and so edit: owners, managers, admins), or None."""
    return db.session.scalar(visible_lists(user).where(EmailList.public_id == public_id))


def list_json(lst: EmailList) -> dict[str, Any]:
    return {
        "id": lst.public_id,
        "name": lst.name,
        "description": lst.description,
        "isSmart": lst.is_smart,
        "criteria": lst.criteria,
        "memberCount": lst.member_count,
        "refreshedAt": lst.refreshed_at.isoformat() if lst.refreshed_at else None,
        "ownerId": lst.owner.public_id,
        "ownerName": lst.owner.name,
        "topicId": _topic_public_id(lst.topic_id),
        "sunsetPolicy": {
            "mode": lst.sunset_policy,
            "minEmails": lst.sunset_min_emails,
            "days": lst.sunset_days,
        },
        "createdAt": lst.created_at.isoformat() if lst.created_at else None,
    }


def _topic_public_id(topic_pk: int | None) -> str | None:
    topic = db.session.get(topics.Topic, topic_pk) if topic_pk else None
    return topic.public_id if topic else None


def customer_row_json(c: Customer) -> dict[str, Any]:
    return {
        "id": c.public_id,
        "name": c.name,
        "email": c.email,
        "territory": c.territory.name if c.territory else None,
        "accountType": c.account_type,
        "accountPriority": c.account_priority,
    }


# --- criteria --------------------------------------------------------------------------


def check_criteria(node: Any, user: User | None, today: date | None = None) -> cr.Context:
    """Resolve the criterion's references, or a 422 naming each bad one."""
    ctx, errors = cr.resolve_references(node, user, today)
    if errors:
        raise invalid(errors)
    return ctx


def matching_ids(node: Any, ctx: cr.Context, user: User) -> Select[Any]:
    """ONE SELECT of the ids of customers matching ``node`` within ``user``'s scope."""
    stmt = select(Customer.id).where(cr.compile_criterion(node, ctx), ~Customer.archived)
    return scope_customers(stmt, user)


def preview(user: User, node: Any, today: date | None = None) -> dict[str, Any]:
    """How many customers a criterion matches now, and the first few; writes nothing."""
    ctx = check_criteria(node, user, today)
    ids = matching_ids(node, ctx, user)
    count = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    sample = db.session.scalars(
        select(Customer)
        .where(Customer.id.in_(ids))
        .order_by(Customer.name, Customer.id)
        .limit(SAMPLE_SIZE)
    ).all()
    return {"count": count, "sample": [customer_row_json(c) for c in sample]}


# --- lists -----------------------------------------------------------------------------


def _topic_pk(topic_id: str | None) -> int | None:
    """A topic's key from its public id (None: no topic), or a 404 naming ``topicId``."""
    return topics.get_topic(topic_id).id if topic_id else None


def create_list(
    user: User,
    name: str,
    description: str | None,
    criteria: Any | None,
    topic_id: str | None = None,
    sunset_policy: Any | None = None,
) -> EmailList:
    """A manual list, or a smart list when ``criteria`` is given (refresh it afterwards)."""
    topic_pk = _topic_pk(topic_id)
    stored = None
    if criteria is not None:
        check_criteria(criteria, user)
        stored = cr.to_json(criteria)
    lst = EmailList(
        name=name,
        description=description,
        owner_id=user.id,
        is_smart=criteria is not None,
        criteria=stored,
        topic_id=topic_pk,
    )
    if sunset_policy is not None:
        _set_sunset_policy(lst, sunset_policy)
    db.session.add(lst)
    db.session.commit()
    return lst


def _set_sunset_policy(lst: EmailList, policy: Any) -> None:
    """Store a :class:`~blueprints.lists.schemas.SunsetPolicyIn` (or its dump)."""
    data = policy if isinstance(policy, dict) else policy.model_dump()
    lst.sunset_policy = data.get("mode") or sunset.DEFAULT
    custom = lst.sunset_policy == sunset.CUSTOM
    lst.sunset_min_emails = data.get("min_emails") if custom else None
    lst.sunset_days = data.get("days") if custom else None


def audience_sunset_policy(public_id: str) -> sunset.SunsetPolicy | None:
    """The ``list`` audience's sunset policy (None: the default)."""
    row = db.session.execute(
        select(EmailList.sunset_policy, EmailList.sunset_min_emails, EmailList.sunset_days).where(
            EmailList.public_id == public_id
        )
    ).first()
    return sunset.SunsetPolicy(row[0], row[1], row[2]) if row is not None else None


def audience_create_smart(name: str, criteria: dict[str, Any], user: User) -> str:
    """A new smart list (refreshed at once, so a campaign to it can be reviewed now)."""
    lst = create_list(user, name, None, cr.parse(criteria))
    refresh(lst.id)
    return lst.public_id


def update_list(user: User, lst: EmailList, data: dict[str, Any]) -> bool:
    """Apply a PATCH; True when the criteria changed (the caller refreshes)."""
    changed = False
    if "criteria" in data:
        if not lst.is_smart:
            raise invalid({"criteria": "a manual list has no criteria"})
        if data["criteria"] is None:
            raise invalid({"criteria": "a smart list needs criteria"})
        check_criteria(data["criteria"], user)
        stored = cr.to_json(data["criteria"])
        changed = stored != lst.criteria
        lst.criteria = stored
    if data.get("name") is not None:
        lst.name = data["name"]
    if "description" in data:
        lst.description = data["description"]
    if "topic_id" in data:
        lst.topic_id = _topic_pk(data["topic_id"])
    if data.get("sunset_policy") is not None:
        _set_sunset_policy(lst, data["sunset_policy"])
    db.session.commit()
    return changed


def campaigns_using(lst: EmailList) -> list[Campaign]:
    """Campaigns that still need the list: scheduled, preparing, sending or paused."""
    return list(
        db.session.scalars(
            select(Campaign)
            .where(
                Campaign.audience_type == "list",
                Campaign.audience_ref == lst.public_id,
                Campaign.status.in_(CAMPAIGNS_IN_PROGRESS),
            )
            .order_by(Campaign.created_at, Campaign.id)
        )
    )


def delete_list(lst: EmailList) -> None:
    """Delete a list and its memberships; 409 naming the campaigns that still use it."""
    using = campaigns_using(lst)
    if using:
        names = ", ".join(f"{c.name} ({c.status}, {c.public_id})" for c in using)
        raise Conflict(
            f"Campaigns still use this list: {names}. Cancel them first.",
            {"campaigns": ", ".join(c.public_id for c in using)},
            code="list_in_use",
        )
    db.session.execute(delete(EmailListMember).where(EmailListMember.list_id == lst.id))
    db.session.delete(lst)
    db.session.commit()


def _recount(list_id: int) -> int:
    count = db.session.scalar(
        select(func.count()).select_from(EmailListMember).where(EmailListMember.list_id == list_id)
    )
    db.session.execute(
        update(EmailList).where(EmailList.id == list_id).values(member_count=count or 0)
    )
    return count or 0


def _insert_missing(list_id: int, where: Any) -> list[int]:
    """INSERT ... SELECT the customers matching ``where`` not yet on the list; returns the
    ids it added (they, and only they, joined: the ``list_members_added`` signal's ids)."""
    already = exists().where(
        EmailListMember.list_id == list_id, EmailListMember.customer_id == Customer.id
    )
    source = select(
        literal(list_id), Customer.id, literal(utcnow(), DateTime(timezone=True))
    ).where(where, ~already)
    stmt = (
        insert(EmailListMember)
        .from_select(["list_id", "customer_id", "added_at"], source)
        .returning(EmailListMember.customer_id)
    )
    return list(db.session.execute(stmt).scalars())


def refresh(list_id: int, today: date | None = None) -> int | None:
    """Make a smart list's members equal its definition, without a long write transaction.

    On SQLite a long write transaction locks every other writer out (their requests failed
    after the busy timeout). So the changes are read first, each as ONE query evaluating
    the definition once (who joins, who leaves), streamed on a connection of their own,
    and written ``LIST_REFRESH_SLICE`` customers at a time, each batch in a short
    transaction. Members are the definition as of those reads, as a refresh in one
    transaction gave them as of its snapshot; two refreshes racing may leave the older
    one's view until the next. Scoped to the owner's territory; memory is bounded by the
    batch. Safe to run twice; None when the list is gone or not smart.
    """
    lst = db.session.get(EmailList, list_id)
    if lst is None or not lst.is_smart or not lst.criteria:
        db.session.rollback()
        return None
    owner = db.session.get_one(User, lst.owner_id)
    public_id = lst.public_id
    node = cr.parse(lst.criteria)
    ctx, _errors = cr.resolve_references(node, None, today)  # vanished refs match nothing
    where: ColumnElement[bool] = cr.compile_criterion(node, ctx) & ~Customer.archived
    scope = customer_filter(owner)
    if scope is not None:
        where = and_(where, scope)
    db.session.commit()
    member = exists().where(
        EmailListMember.list_id == list_id, EmailListMember.customer_id == Customer.id
    )
    joining = select(Customer.id).where(where, ~member)
    matching = exists().where(Customer.id == EmailListMember.customer_id, where)
    leaving = select(EmailListMember.customer_id).where(
        EmailListMember.list_id == list_id, ~matching
    )
    size = int(current_app.config.get("LIST_REFRESH_SLICE") or REFRESH_SLICE)
    for ids in _streamed(leaving, size):
        busy.retry(partial(_write_batch, list_id, ids, []))
    for ids in _streamed(joining, size):
        joined = busy.retry(partial(_write_batch, list_id, [], ids))
        if joined:  # flows triggered by joining this list (app/flows): one signal per batch
            list_members_added.send(app_object(), list_id=public_id, customer_ids=joined)
    return _finish_refresh(list_id)


def _streamed(stmt: Select[Any], size: int) -> Iterator[list[int]]:
    """The ids ``stmt`` selects, ``size`` at a time, read on a connection of its own (one
    read: no write lock, while this session writes each batch and commits)."""
    with db.engine.connect() as reader:
        result = reader.execution_options(yield_per=size).execute(stmt)
        for batch in result.partitions():
            yield [row[0] for row in batch]


def _write_batch(list_id: int, leaving: list[int], joining: list[int]) -> list[int]:
    """One short write transaction: these members off, those on (the list still there);
    returns the ids that joined (none when the list was deleted meanwhile)."""
    _commit_unsynced_ahead()
    joined: list[int] = []
    if leaving:
        db.session.execute(
            delete(EmailListMember).where(
                EmailListMember.list_id == list_id, EmailListMember.customer_id.in_(leaving)
            )
        )
    if joining:
        listed = exists().where(EmailList.id == list_id)  # not if deleted meanwhile
        joined = _insert_missing(list_id, and_(Customer.id.in_(joining), listed))
    db.session.commit()
    return joined


def _commit_unsynced_ahead() -> None:
    """Let a refresh batch commit without waiting for the disk (a fsync per batch made a
    20,000-customer refresh 5-10 times slower). Membership is derived: a batch lost to a
    power cut is redone by the next refresh, and the refresh's last commit, synced, makes
    the batches before it durable too. As the outbox's claims do (decision 59): PostgreSQL
    skips the WAL flush for this transaction; SQLite takes the setting before the
    transaction starts, and the connection is synced again as it goes back to the pool."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    elif connection.dialect.name == "sqlite":
        if getattr(connection.connection.driver_connection, "in_transaction", True):
            return
        connection.info[UNSYNCED] = True
        connection.exec_driver_sql("PRAGMA synchronous=NORMAL")


def _finish_refresh(list_id: int) -> int | None:
    """Store the new count and time (None when the list was deleted meanwhile)."""

    def write() -> int | None:
        if db.session.scalar(select(EmailList.id).where(EmailList.id == list_id)) is None:
            db.session.rollback()
            return None
        count = _recount(list_id)
        db.session.execute(
            update(EmailList).where(EmailList.id == list_id).values(refreshed_at=utcnow())
        )
        db.session.commit()
        return count

    return busy.retry(write)


def stale_smart_lists(max_age: timedelta, limit: int) -> list[int]:
    """Ids of smart lists not refreshed within ``max_age``, oldest (or never) first."""
    cutoff = utcnow() - max_age
    stmt = (
        select(EmailList.id)
        .where(EmailList.is_smart.is_(True))
        .where((EmailList.refreshed_at.is_(None)) | (EmailList.refreshed_at < cutoff))
        .order_by(EmailList.refreshed_at.is_not(None), EmailList.refreshed_at, EmailList.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


# --- members ---------------------------------------------------------------------------


def members_query(lst: EmailList, user: User) -> Select[Any]:
    stmt = (
        select(Customer)
        .join(EmailListMember, EmailListMember.customer_id == Customer.id)
        .where(EmailListMember.list_id == lst.id)
    )
    return scope_customers(stmt, user).order_by(Customer.name, Customer.id)


def normalise_email(raw: str) -> str:
    """The comparable form of an address (raises EmailNotValidError)."""
    return validate_email(raw.strip(), check_deliverability=False).normalized.lower()


def _require_manual(lst: EmailList) -> None:
    if lst.is_smart:
        raise Conflict(
            "A smart list's members come from its criteria; edit those", code="smart_list"
        )


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def _resolve_customer_ids(user: User, public_ids: list[str]) -> list[int]:
    unique = list(dict.fromkeys(public_ids))
    found: dict[str, int] = {}
    for chunk in _chunks(unique):
        stmt = scope_customers(
            select(Customer.public_id, Customer.id).where(Customer.public_id.in_(chunk)), user
        )
        found.update({p: i for p, i in db.session.execute(stmt)})
    errors = {
        f"customerIds[{i}]": "unknown customer" for i, p in enumerate(public_ids) if p not in found
    }
    if errors:
        raise invalid(errors)
    return list(found.values())


def _ids_by_email(user: User | None, emails: Iterable[str]) -> dict[str, list[int]]:
    """Normalised email -> customer ids with that email (visible to ``user`` if given)."""
    result: dict[str, list[int]] = {}
    for chunk in _chunks(list(emails)):
        stmt = select(func.lower(Customer.email), Customer.id).where(
            func.lower(Customer.email).in_(chunk)
        )
        if user is not None:
            stmt = scope_customers(stmt, user)
        for email, customer_id in db.session.execute(stmt):
            result.setdefault(email, []).append(customer_id)
    return result


def _resolve_emails(user: User, emails: list[str]) -> list[int]:
    errors: dict[str, str] = {}
    normalised: dict[int, str] = {}
    for i, raw in enumerate(emails):
        try:
            normalised[i] = normalise_email(raw)
        except EmailNotValidError as exc:
            errors[f"emails[{i}]"] = str(exc)
    if errors:
        raise invalid(errors)
    found = _ids_by_email(user, set(normalised.values()))
    for i, email in normalised.items():
        if email not in found:
            errors[f"emails[{i}]"] = "no customer you can see has this email"
    if errors:
        raise invalid(errors)
    return sorted({cid for ids in found.values() for cid in ids})


def _resolve_members(
    user: User, customer_ids: list[str] | None, emails: list[str] | None
) -> list[int]:
    """Customer ids from public ids or, when none are given, from email addresses."""
    if customer_ids is not None:
        return _resolve_customer_ids(user, customer_ids)
    return _resolve_emails(user, emails or [])


def add_members(
    user: User, lst: EmailList, customer_ids: list[str] | None, emails: list[str] | None
) -> int:
    """Add customers (by public id or email) to a manual list; returns how many were new."""
    _require_manual(lst)
    ids = _resolve_members(user, customer_ids, emails)
    before = lst.member_count
    joined: list[int] = []
    for chunk in _chunks(ids):
        joined += _insert_missing(lst.id, Customer.id.in_(chunk))
    after = _recount(lst.id)
    db.session.commit()
    if joined:  # flows triggered by joining this list (app/flows)
        list_members_added.send(app_object(), list_id=lst.public_id, customer_ids=joined)
    return after - before


def remove_members(
    user: User, lst: EmailList, customer_ids: list[str] | None, emails: list[str] | None
) -> int:
    _require_manual(lst)
    ids = _resolve_members(user, customer_ids, emails)
    before = lst.member_count
    for chunk in _chunks(ids):
        db.session.execute(
            delete(EmailListMember).where(
                EmailListMember.list_id == lst.id, EmailListMember.customer_id.in_(chunk)
            )
        )
    after = _recount(lst.id)
    db.session.commit()
    return before - after


# --- CSV -------------------------------------------------------------------------------


def _email_column(header: Sequence[str]) -> str | None:
    for name in header:
        if (name or "").strip().lower() in EMAIL_COLUMNS:
            return name
    return None


def _id_column(header: Sequence[str]) -> str | None:
    """The customer id column of an export (``customer_id``), when the file has one."""
    for name in header:
        if (name or "").strip().lower().replace(" ", "_") in ID_COLUMNS:
            return name
    return None


def _cell(row: dict[str | Any, Any], column: str | None) -> str:
    """A row's value in ``column`` ("" when absent), with the export's formula guard undone."""
    value = row.get(column) if column is not None else None
    if not isinstance(value, str):
        return ""
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value


def _match_customer_ids(
    user: User, id_rows: list[tuple[int, str, str]]
) -> tuple[set[int], list[dict[str, Any]]]:
    """Customers named by id (an export's ``customer_id`` column), email or not.

    Returns the customer ids matched and the rejected rows (unknown, hidden, repeated).
    """
    wanted = list(dict.fromkeys(public_id for _, public_id, _ in id_rows))
    visible: dict[str, int] = {}
    known: set[str] = set()
    for chunk in _chunks(wanted):
        stmt = select(Customer.public_id, Customer.id).where(Customer.public_id.in_(chunk))
        visible.update({p: i for p, i in db.session.execute(scope_customers(stmt, user))})
        known.update(
            db.session.scalars(select(Customer.public_id).where(Customer.public_id.in_(chunk)))
        )
    matched: set[int] = set()
    seen: set[str] = set()
    rejected: list[dict[str, Any]] = []
    for line, public_id, email in id_rows:
        reason = None
        if public_id in seen:
            reason = "duplicate"
        elif public_id in visible:
            matched.add(visible[public_id])
        elif public_id in known:
            reason = "not visible to you"
        else:
            reason = "no such customer"
        seen.add(public_id)
        if reason:
            rejected.append(
                {"line": line, "email": email, "customerId": public_id, "reason": reason}
            )
    return matched, rejected


def import_csv(user: User, lst: EmailList, data: bytes, dry_run: bool) -> dict[str, Any]:
    """Match a CSV's rows to customers and add them; report every rejected row.

    A row is matched by its ``customer_id`` when the file has that column (an export
    does: customers without an email come back too), else by email. A malformed file
    (too big, not UTF-8, neither column) raises before anything is written. Rejected
    rows never stop the others; ``dry_run`` writes nothing.
    """
    _require_manual(lst)
    limit = current_app.config.get("LIST_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
    if len(data) > limit:
        raise Invalid(
            f"The file is over {limit // 1024} KiB",
            {"file": "too big"},
            code="payload_too_large",
            status=413,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid(
            {"file": f"not UTF-8 (byte {exc.start}); save it as CSV UTF-8"}, "Unreadable file"
        ) from exc
    if "\x00" in text:
        raise invalid({"file": "contains NUL bytes: not a text CSV file"}, "Unreadable file")
    reader = None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        column = _email_column(reader.fieldnames or [])
        id_column = _id_column(reader.fieldnames or [])
        if column is None and id_column is None:
            raise invalid(
                {"file": "no email column (name one of: email, Email, E-mail)"}, "No email column"
            )
        rows: list[tuple[int, str]] = []
        id_rows: list[tuple[int, str, str]] = []  # rows matched by their customer id
        for row in reader:
            value = _cell(row, column)
            public_id = _cell(row, id_column).strip()
            if public_id:
                id_rows.append((reader.line_num, public_id, value))
            else:
                rows.append((reader.line_num, value))
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise invalid(
            {"file": f"not a CSV file (line {line}: {exc}; check for an unbalanced quote)"},
            "Unreadable file",
        ) from exc

    rejected: list[dict[str, Any]] = []
    seen: set[str] = set()
    accepted: list[tuple[int, str, str]] = []
    for line, raw in rows:
        if not raw.strip():
            rejected.append({"line": line, "email": raw, "reason": "missing email"})
            continue
        try:
            email = normalise_email(raw)
        except EmailNotValidError as exc:
            rejected.append({"line": line, "email": raw, "reason": f"invalid email: {exc}"})
            continue
        if email in seen:
            rejected.append({"line": line, "email": raw, "reason": "duplicate"})
            continue
        seen.add(email)
        accepted.append((line, raw, email))

    # An address in another territory gets the same answer as an unknown one: telling
    # them apart would let a rep probe other territories' customer lists.
    visible = _ids_by_email(user, seen)
    ids: set[int] = set()
    matched = 0
    for line, raw, email in accepted:
        if email in visible:
            ids.update(visible[email])
            matched += 1
        else:
            rejected.append({"line": line, "email": raw, "reason": "no such customer"})
    by_id, rejected_by_id = _match_customer_ids(user, id_rows)
    ids.update(by_id)
    matched += len(by_id)
    rejected.extend(rejected_by_id)
    rejected.sort(key=lambda r: r["line"])

    already: set[int] = set()
    for chunk in _chunks(sorted(ids)):
        already.update(
            db.session.scalars(
                select(EmailListMember.customer_id).where(
                    EmailListMember.list_id == lst.id, EmailListMember.customer_id.in_(chunk)
                )
            )
        )
    new = len(ids - already)
    if not dry_run and ids:
        joined: list[int] = []
        for chunk in _chunks(sorted(ids)):
            joined += _insert_missing(lst.id, Customer.id.in_(chunk))
        _recount(lst.id)
        db.session.commit()
        if joined:  # flows triggered by joining this list (app/flows): one signal per file
            list_members_added.send(app_object(), list_id=lst.public_id, customer_ids=joined)
    return {
        "dryRun": dry_run,
        "rows": len(rows) + len(id_rows),
        "matched": matched,
        "added": new,
        "alreadyMembers": len(ids) - new,
        "rejected": rejected,
    }


EXPORT_HEADER = ["email", "name", "customer_id", "territory", "account_type", "account_priority"]


def export_rows(lst: EmailList, user: User) -> Iterator[str]:
    """The list's members you can see as CSV text chunks: a BOM, a header, then rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    yield "\ufeff" + buffer.getvalue()
    stmt = scope_customers(
        select(
            Customer.email,
            Customer.name,
            Customer.public_id,
            Territory.name,
            Customer.account_type,
            Customer.account_priority,
        )
        .join(EmailListMember, EmailListMember.customer_id == Customer.id)
        .outerjoin(Territory, Territory.id == Customer.territory_id)
        .where(EmailListMember.list_id == lst.id)
        .order_by(Customer.name, Customer.id),
        user,
    )
    result = db.session.execute(stmt.execution_options(yield_per=1000))
    for batch in result.partitions():
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            writer.writerow(["" if v is None else _safe_cell(str(v)) for v in row])
        yield buffer.getvalue()


def _safe_cell(value: str) -> str:
    """Defuse spreadsheet formulas (CSV injection) in names and other free text."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def audience_ids(public_id: str, user: User) -> Select[Any]:
    """The ``list`` audience resolver: member ids of a list ``user`` sees, in their scope."""
    lst = get_list(public_id, user)
    if lst is None:
        raise LookupError("unknown list")
    stmt = select(EmailListMember.customer_id).where(EmailListMember.list_id == lst.id)
    clause = customer_filter(user)
    if clause is not None:
        stmt = stmt.where(EmailListMember.customer_id.in_(select(Customer.id).where(clause)))
    return stmt


def audience_add(public_id: str, customer_ids: Sequence[str], user: User) -> int:
    """The ``list`` audience writer: add customers (public ids) to a manual list."""
    lst = get_list(public_id, user)
    if lst is None:
        raise LookupError("unknown list")
    return add_members(user, lst, list(customer_ids), None)


def audience_remove(public_id: str, customer_ids: Sequence[str], user: User) -> int:
    """The ``list`` audience's removal: take customers (public ids) off a manual list."""
    lst = get_list(public_id, user)
    if lst is None:
        raise LookupError("unknown list")
    return remove_members(user, lst, list(customer_ids), None)


def audience_choices(user: User) -> list[tuple[str, str]]:
    """The lists ``user`` may send to, labelled with their member counts."""
    return [
        (lst.public_id, f"{lst.name} ({lst.member_count:,})")
        for lst in db.session.scalars(visible_lists(user).limit(500))
    ]


def audience_writable_choices(user: User) -> list[tuple[str, str]]:
    """The manual lists ``user`` may add customers to (smart lists follow criteria)."""
    return [
        (lst.public_id, f"{lst.name} ({lst.member_count:,})")
        for lst in db.session.scalars(
            visible_lists(user).where(EmailList.is_smart.is_(False)).limit(500)
        )
    ]


def audience_topic(public_id: str) -> int | None:
    """The topic a list is tied to (campaigns skip those who left it)."""
    return db.session.scalar(select(EmailList.topic_id).where(EmailList.public_id == public_id))


def audience_label(public_id: str, user: User) -> str:
    lst = get_list(public_id, user)
    if lst is None:
        raise LookupError("unknown list")
    return f"{lst.name} ({lst.member_count})"
