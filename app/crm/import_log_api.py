"""GET /api/sales/imports: the import log (page, API and CLI imports), newest first."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from app.api.errors import not_found
from app.api.pagination import PageQuery, paginate
from app.api.spec import ApiResponse, OutModel, api, responses
from app.auth.access import role_required
from app.crm.import_views import allowed_entities, visible_imports
from app.crm.imports.import_log import ImportRun
from app.extensions import db

bp = Blueprint("crm_import_log_api", __name__, url_prefix="/api/sales/imports")


class ImportOut(OutModel):
    id: str
    by: str
    source: str
    entity: str
    file_name: str | None
    status: str
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows_done: int
    rows_total: int | None
    progress: int
    error: str | None
    created_at: str | None
    updated_at: str | None
    finished_at: str | None


class ImportPage(OutModel):
    items: list[ImportOut]
    total: int
    page: int
    per_page: int


@bp.get("")
@role_required("admin", "manager")
@api.validate(query=PageQuery, resp=responses(HTTP_200=ImportPage, HTTP_403=None), tags=["import"])
def list_imports(query: PageQuery) -> ApiResponse:
    """Every import (page, API, CLI): who, when, what, status, counts and progress.
    Admins and managers (managers do not see user imports)."""
    return paginate(visible_imports(), query.page, query.per_page, ImportRun.to_json)


@bp.get("/<import_id>")
@role_required("admin", "manager")
@api.validate(resp=responses(HTTP_200=ImportOut, HTTP_403=None, HTTP_404=None), tags=["import"])
def get_import(import_id: str) -> ApiResponse:
    """One import: its status, counts and progress (what the import page polls)."""
    entry = db.session.scalar(select(ImportRun).where(ImportRun.public_id == import_id))
    if entry is None or entry.entity not in allowed_entities():
        raise not_found("import")
    return entry.to_json()
