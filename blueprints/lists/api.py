"""/api/sales/marketing/lists: thin routes over :mod:`blueprints.lists.services`."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, stream_with_context
from flask_login import current_user

from app import jobs
from app.api.errors import not_found, validation_error
from app.api.limits import SMALL_BODY, body_limit
from app.api.pagination import PageQuery, paginate
from app.api.spec import api, responses
from app.extensions import db
from blueprints.lists import schemas as s
from blueprints.lists import services
from blueprints.lists.models import EmailList

bp = Blueprint("lists_api", __name__, url_prefix="/api/sales/marketing/lists")
TAGS = ["lists"]


def validate(**kwargs):
    """``api.validate`` with the criteria-aware 422 paths."""
    return api.validate(before=s.raise_validation, tags=TAGS, **kwargs)


def _list_or_404(list_id: str) -> EmailList:
    lst = services.get_list(list_id, current_user)
    if lst is None:
        raise not_found("list")
    return lst


def enqueue_refresh(lst: EmailList) -> jobs.JobHandle:
    from blueprints.lists.jobs import refresh_list

    return jobs.enqueue(refresh_list, lst.id, queue="lists", job_id=None)


@bp.get("")
@validate(query=s.ListQuery, resp=responses(HTTP_200=s.ListPage))
def list_lists(query: s.ListQuery):
    """Lists you can see: all for managers and admins, your own for reps."""
    stmt = services.visible_lists(current_user)
    if query.smart is not None:
        stmt = stmt.where(EmailList.is_smart.is_(query.smart))
    return paginate(stmt, query.page, query.per_page, services.list_json)


@bp.post("")
@body_limit(SMALL_BODY)
@validate(json=s.ListCreate, resp=responses(HTTP_201=s.ListOut))
def create_list(json: s.ListCreate):
    """A manual list, or a smart list from ``criteria`` (its first refresh is a job)."""
    lst = services.create_list(
        current_user,
        json.name,
        json.description,
        json.criteria,
        json.topic_id,
        json.sunset_policy,
    )
    if lst.is_smart:
        enqueue_refresh(lst)
        db.session.refresh(lst)
    return services.list_json(lst), 201


@bp.post("/preview")
@body_limit(SMALL_BODY)
@validate(json=s.PreviewIn, resp=responses(HTTP_200=s.PreviewOut))
def preview(json: s.PreviewIn):
    """How many customers criteria match now (and the first 50); saves nothing."""
    return services.preview(current_user, json.criteria)


@bp.get("/<list_id>")
@validate(resp=responses(HTTP_200=s.ListOut, HTTP_404=None))
def get_list(list_id: str):
    return services.list_json(_list_or_404(list_id))


@bp.patch("/<list_id>")
@body_limit(SMALL_BODY)
@validate(json=s.ListPatch, resp=responses(HTTP_200=s.ListOut, HTTP_404=None))
def patch_list(list_id: str, json: s.ListPatch):
    """Rename, describe, or change a smart list's criteria (which refreshes it)."""
    lst = _list_or_404(list_id)
    data = json.model_dump(exclude_unset=True)
    if "criteria" in data:
        data["criteria"] = json.criteria
    if services.update_list(current_user, lst, data):
        enqueue_refresh(lst)
        db.session.refresh(lst)
    return services.list_json(lst)


@bp.delete("/<list_id>")
@validate(resp=responses(HTTP_204=None, HTTP_404=None, HTTP_409=None))
def delete_list(list_id: str):
    """Delete a list; 409 naming the campaigns (scheduled, sending...) that still use it."""
    services.delete_list(_list_or_404(list_id))
    return "", 204


@bp.get("/<list_id>/members")
@validate(query=PageQuery, resp=responses(HTTP_200=s.MemberPage, HTTP_404=None))
def members(list_id: str, query: PageQuery):
    lst = _list_or_404(list_id)
    stmt = services.members_query(lst, current_user)
    return paginate(stmt, query.page, query.per_page, services.customer_row_json)


@bp.post("/<list_id>/members")
@validate(json=s.MembersIn, resp=responses(HTTP_200=s.MembersChangeOut, HTTP_404=None))
def add_members(list_id: str, json: s.MembersIn):
    """Add customers by ``customerIds`` or ``emails`` (manual lists; all or nothing)."""
    lst = _list_or_404(list_id)
    added = services.add_members(current_user, lst, json.customer_ids, json.emails)
    db.session.refresh(lst)
    return {"changed": added, "list": services.list_json(lst)}


@bp.delete("/<list_id>/members")
@validate(resp=responses(HTTP_200=s.MembersChangeOut, HTTP_404=None))
def remove_members(list_id: str):
    """Remove customers by ``customerIds`` or ``emails`` (JSON body, as for adding)."""
    lst = _list_or_404(list_id)
    body = s.parse_body(s.MembersIn)  # spectree does not read DELETE bodies
    removed = services.remove_members(current_user, lst, body.customer_ids, body.emails)
    db.session.refresh(lst)
    return {"changed": removed, "list": services.list_json(lst)}


@bp.post("/<list_id>/refresh")
@validate(resp=responses(HTTP_202=s.RefreshOut, HTTP_404=None))
def refresh(list_id: str):
    """Re-evaluate a smart list in the background; poll ``GET /api/jobs/<id>``."""
    lst = _list_or_404(list_id)
    if not lst.is_smart:
        raise validation_error({"listId": "only smart lists refresh"})
    handle = enqueue_refresh(lst)
    db.session.refresh(lst)
    job = {"id": handle.id, "status": handle.status}
    return {"job": job, "list": services.list_json(lst)}, 202


@bp.get("/<list_id>/export")
def export(list_id: str):
    """The members you can see as CSV (UTF-8 with BOM, so spreadsheets read accents)."""
    lst = _list_or_404(list_id)
    filename = "".join(ch if ch.isalnum() else "-" for ch in lst.name).strip("-") or "list"
    return Response(
        stream_with_context(services.export_rows(lst, current_user)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename[:60]}.csv"'},
    )


@bp.post("/<list_id>/import")
@validate(query=s.ImportQuery, resp=responses(HTTP_200=s.ImportOut, HTTP_404=None))
def import_csv(list_id: str, query: s.ImportQuery):
    """Multipart upload (field ``file``) of a CSV with an email column."""
    lst = _list_or_404(list_id)
    upload = request.files.get("file")
    if upload is None:
        raise validation_error({"file": "attach a CSV file in the 'file' field"})
    limit = int(current_app.config["LIST_IMPORT_MAX_BYTES"])
    return services.import_csv(current_user, lst, upload.read(limit + 1), query.dry_run)
