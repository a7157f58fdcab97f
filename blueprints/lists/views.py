"""Pages under /sales/marketing/lists: index, criteria builder, list detail."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from pydantic import ValidationError
from sqlalchemy import select

from app import jobs
from app.crm.models import ACCOUNT_PRIORITIES, ACCOUNT_TYPES, Customer, Sku, Territory
from app.crm.tables import CUSTOMERS_TABLE
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_error
from app.messaging import consent, topics
from app.messaging.models import Campaign
from app.tables import TableSpec
from blueprints.lists import criteria as cr
from blueprints.lists import labels, schemas, services
from blueprints.lists.forms import ActionForm, ImportForm, ListForm, MemberForm
from blueprints.lists.models import EmailList

bp = Blueprint("lists", __name__, url_prefix="/sales/marketing/lists", template_folder="templates")
#: The builder's script, served under /static/lists/ with the app's other public assets.
assets = Blueprint(
    "lists_assets", __name__, static_folder="static", static_url_path="/static/lists"
)
PER_PAGE = 25

#: The members table: sortable columns and what the search box matches.
MEMBERS_TABLE = TableSpec(
    # the customers table's columns (same order of priorities), but lifetime revenue
    columns={
        k: v for k, v in CUSTOMERS_TABLE.columns.items() if k not in ("revenue", "engagement")
    },
    default_sort="name",
    search=(Customer.name, Customer.email),
    tiebreak=Customer.id,
    desc_first=frozenset({"lastOrder"}),
)


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        return 1


def _list_or_404(list_id: str) -> EmailList:
    lst = services.get_list(list_id, current_user)
    if lst is None:
        abort(404)
    return lst


def _refresh_in_background(lst: EmailList) -> None:
    from blueprints.lists.jobs import refresh_list

    jobs.enqueue(refresh_list, lst.id, queue="lists")


@bp.get("")
def index():
    pagination = db.paginate(
        services.visible_lists(current_user), page=_page(), per_page=PER_PAGE, error_out=False
    )
    return render_template("lists/index.html", pagination=pagination)


def _builder_options() -> dict[str, list[Any]]:
    territories = db.session.scalars(select(Territory).order_by(Territory.name)).all()
    if not current_user.sees_all_territories:
        territories = [t for t in territories if t.id == current_user.territory_id]
    skus = db.session.execute(
        select(Sku.public_id, Sku.name).where(Sku.active.is_(True)).order_by(Sku.name).limit(500)
    ).all()
    return {
        "territories": [t.name for t in territories],
        "accountTypes": list(ACCOUNT_TYPES),
        "accountPriorities": list(ACCOUNT_PRIORITIES),
        "skus": [{"id": p, "name": n} for p, n in skus],
        "campaigns": _campaign_options(),
        "types": list(cr.LEAVES),
    }


def _campaign_options() -> list[dict[str, str]]:
    """Email campaigns already sent (or sending) the user may see, newest first, for the
    "clicked campaign" rule."""
    stmt = (
        select(Campaign.public_id, Campaign.name)
        .where(Campaign.channel == "email", Campaign.status.in_(("sending", "sent", "paused")))
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(200)
    )
    if not current_user.sees_all_territories:
        stmt = stmt.where(Campaign.created_by_id == current_user.id)
    return [{"id": p, "name": n} for p, n in db.session.execute(stmt)]


def _form_page(form: ListForm, errors: dict[str, str], lst: EmailList | None = None):
    """The list form with its criteria builder: new (``lst`` None) or edit; 422 on errors,
    the form's own (a description too long) as well as the service's."""
    field_errors = {
        name: messages[0]
        for name, messages in form.errors.items()
        if name and isinstance(messages, list)
    }
    errors = field_errors | errors
    errors = {labels.label(path): message for path, message in errors.items()}
    _topic_choices(form)
    return render_template(
        "lists/new.html",
        form=form,
        errors=errors,
        lst=lst,
        options=json.dumps(_builder_options()),
        preview_url=url_for("lists_api.preview"),
    ), (422 if errors else 200)


def _topic_choices(form: ListForm) -> None:
    form.topic_id.choices = [("", "No topic")] + [
        (t.public_id, t.name) for t in topics.all_topics()
    ]


def _error_text(exc: DomainError) -> str:
    """An API error for a flash message: what it says of each field, else its message."""
    return "; ".join((exc.fields or {}).values()) or exc.message


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = ListForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        criterion = None
        try:
            if form.smart.data:
                raw = json.loads(form.criteria.data or "null")
                criterion = schemas.PreviewIn.model_validate({"criteria": raw}).criteria
            policy = schemas.ListPatch.model_validate(
                {"sunsetPolicy": form.sunset_policy_json()}
            ).sunset_policy
            lst = services.create_list(
                current_user,
                form.name.data or "",
                form.description.data or None,
                criterion,
                form.topic_id.data or None,
                policy,
            )
        except json.JSONDecodeError:
            errors = {"criteria": "not valid JSON"}
        except ValidationError as exc:
            errors = schemas.error_fields(exc)
        except DomainError as exc:
            db.session.rollback()
            errors = exc.fields or {"criteria": exc.message}
        else:
            if lst.is_smart:
                _refresh_in_background(lst)
            flash(f"List “{lst.name}” created.", "success")
            return redirect(url_for("lists.detail", list_id=lst.public_id))
    return _form_page(form, errors)


@bp.route("/<list_id>/edit", methods=["GET", "POST"])
def edit(list_id: str):
    """Rename, describe, and (smart lists) change the criteria, which refreshes the list."""
    lst = _list_or_404(list_id)
    form = ListForm(obj=lst) if request.method == "GET" else ListForm()
    form.smart.data = lst.is_smart
    if request.method == "GET":
        form.criteria.data = json.dumps(lst.criteria) if lst.criteria else ""
        topic = db.session.get(topics.Topic, lst.topic_id) if lst.topic_id else None
        form.topic_id.data = topic.public_id if topic else ""
        form.sunset_policy.data = lst.sunset_policy
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        data: dict[str, object] = {
            "name": form.name.data,
            "description": form.description.data,
            "topicId": form.topic_id.data or None,
            "sunsetPolicy": form.sunset_policy_json(),
        }
        try:
            if lst.is_smart:
                data["criteria"] = json.loads(form.criteria.data or "null")
            patch = schemas.ListPatch.model_validate(data)
            changes = patch.model_dump(exclude_unset=True)
            if lst.is_smart:
                changes["criteria"] = patch.criteria
            criteria_changed = services.update_list(current_user, lst, changes)
        except json.JSONDecodeError:
            errors = {"criteria": "not valid JSON"}
        except ValidationError as exc:
            errors = schemas.error_fields(exc)
        except DomainError as exc:
            db.session.rollback()
            errors = exc.fields or {"criteria": exc.message}
        else:
            if criteria_changed:
                _refresh_in_background(lst)
            flash(f"List “{lst.name}” saved.", "success")
            return redirect(url_for("lists.detail", list_id=lst.public_id))
    return _form_page(form, errors, lst)


@bp.post("/<list_id>/members/add")
def add_member(list_id: str):
    """Add one customer by email. Refused: the list page again with the address as typed
    and why (422), not a redirect that empties the box."""
    lst = _list_or_404(list_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return detail(lst.public_id, member_form=form), 422
    try:
        added = services.add_members(current_user, lst, None, [form.email.data or ""])
    except DomainError as exc:
        db.session.rollback()
        add_error(form, "email", f"{form.email.data}: {_error_text(exc)}")
        return detail(lst.public_id, member_form=form), exc.status
    flash(
        f"{form.email.data} added." if added else f"{form.email.data} is already a member.",
        "success" if added else "info",
    )
    return redirect(url_for("lists.detail", list_id=lst.public_id))


@bp.post("/<list_id>/members/<customer_id>/remove")
def remove_member(list_id: str, customer_id: str):
    lst = _list_or_404(list_id)
    if ActionForm().validate_on_submit():
        try:
            removed = services.remove_members(current_user, lst, [customer_id], None)
        except DomainError as exc:
            db.session.rollback()
            flash(_error_text(exc), "danger")
        else:
            flash("Member removed." if removed else "Not a member.", "info")
    return redirect(url_for("lists.detail", list_id=lst.public_id, page=request.args.get("page")))


@bp.get("/<list_id>")
def detail(
    list_id: str,
    report: dict | None = None,
    import_form: ImportForm | None = None,
    member_form: MemberForm | None = None,
):
    lst = _list_or_404(list_id)
    table = MEMBERS_TABLE.from_request()
    members = table.paginate(services.members_query(lst, current_user))
    topic = db.session.get(topics.Topic, lst.topic_id) if lst.topic_id else None
    return render_template(
        "lists/detail.html",
        lst=lst,
        members=members,
        table=table,
        topic=topic,
        consent_states=member_consent(members.items),
        criteria_json=json.dumps(lst.criteria, indent=2) if lst.criteria else None,
        action_form=ActionForm(),
        member_form=member_form or MemberForm(formdata=None),
        import_form=import_form or ImportForm(),
        report=report,
        campaigns=_campaign_links(lst),
    )


def member_consent(customers: list[Customer]) -> dict[int, dict[str, str]]:
    """Per customer on the page: a short word per channel (``ok`` or why not), in four
    queries for the whole page."""
    words = (
        ("suppression list", "suppressed"),
        ("opted out", "opted out"),
        ("opt-in", "no opt-in"),
        ("no ", "no address"),
    )
    states: dict[int, dict[str, str]] = {c.id: {} for c in customers}
    for channel, address_of in (("email", "email"), ("sms", "phone")):
        refused = consent.refusals(
            channel, [(c.id, c.id, getattr(c, address_of)) for c in customers]
        )
        for c in customers:
            why = refused.get(c.id)
            word = "ok" if why is None else next((w for k, w in words if k in why), "no")
            states[c.id][channel] = word
    return states


@bp.post("/<list_id>/refresh")
def refresh(list_id: str):
    lst = _list_or_404(list_id)
    if ActionForm().validate_on_submit() and lst.is_smart:
        _refresh_in_background(lst)
        flash("Refresh started.", "info")
    return redirect(url_for("lists.detail", list_id=lst.public_id))


@bp.post("/<list_id>/delete")
def delete(list_id: str):
    lst = _list_or_404(list_id)
    if ActionForm().validate_on_submit():
        try:
            services.delete_list(lst)
        except DomainError as exc:
            db.session.rollback()
            flash(f"Not deleted: {exc.message}", "danger")
        else:
            flash("List deleted.", "info")
            return redirect(url_for("lists.index"))
    return redirect(url_for("lists.detail", list_id=lst.public_id))


def _campaign_links(lst: EmailList) -> list[tuple[Campaign, str | None]]:
    """Unfinished campaigns sending to the list, with their page (the core's)."""
    return [
        (campaign, url_for("campaigns.detail", campaign_id=campaign.public_id))
        for campaign in services.campaigns_using(lst)
    ]


@bp.post("/<list_id>/import")
def import_csv(list_id: str):
    lst = _list_or_404(list_id)
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Choose a CSV file to import.", "warning")
        return redirect(url_for("lists.detail", list_id=lst.public_id))
    limit = int(current_app.config["LIST_IMPORT_MAX_BYTES"])
    try:
        report = services.import_csv(
            current_user, lst, form.file.data.read(limit + 1), bool(form.dry_run.data)
        )
    except DomainError as exc:
        flash(f"{exc.message}: {_error_text(exc)}" if exc.fields else exc.message, "danger")
        return redirect(url_for("lists.detail", list_id=lst.public_id))
    if not report["dryRun"]:
        flash(f"Imported: {report['added']} added, {len(report['rejected'])} rejected.", "success")
    return detail(lst.public_id, report=report)
