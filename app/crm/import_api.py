"""POST /api/sales/import/<entity>: bulk upserts keyed by the source system's ids."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from app.api.errors import ApiError, not_found
from app.api.spec import ApiResponse, api, responses
from app.crm import imports
from app.crm.imports import import_log
from app.crm.imports.body import DEFAULT_MAX_ROWS, parse_rows
from app.crm.imports.rows import ImportBody, ImportReport
from app.errors import DomainError
from app.request_guards import parses_own_json

bp = Blueprint("crm_import_api", __name__, url_prefix="/api/sales/import")


@bp.post("/<entity>")
@parses_own_json  # parse_rows answers a malformed or too deeply nested body with a 400
@api.validate(
    json=ImportBody,
    resp=responses(HTTP_200=ImportReport, HTTP_403=None, HTTP_404=None, HTTP_413=None),
    tags=["import"],
    skip_validation=True,  # the body may be NDJSON; rows are validated one by one
)
def import_rows(entity: str) -> ApiResponse:
    """Create or update territories, skus, customers, orders (with lines) or users.

    Rows are matched by `externalId` (the source system's id) or `id` (Decant's); a field
    left out keeps its value, `null` clears it. Send a JSON array or NDJSON
    (`Content-Type: application/x-ndjson`), at most `IMPORT_MAX_ROWS` rows (10,000 by
    default; 413 beyond). `?dryRun=true` answers the same report and writes nothing.
    Each row answers created, updated, unchanged or rejected with the field and reason;
    replaying a payload answers all unchanged. Admins and managers; users: admins only.
    """
    spec = imports.ENTITIES.get(entity)
    if spec is None:
        raise not_found("import entity")
    if current_user.role not in spec.roles:
        raise ApiError(403, "forbidden", f"Requires role: {' or '.join(spec.roles)}")
    dry_run = (request.args.get("dryRun") or "").lower() in ("1", "true", "yes")
    max_rows = int(current_app.config.get("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS))
    rows, row_digests = parse_rows(request.get_data(), request.mimetype, max_rows, entity)
    try:
        report = imports.run(entity, rows, current_user, dry_run=dry_run, row_digests=row_digests)
    except DomainError as exc:
        import_log.record("api", entity, current_user, dry_run=dry_run, error=exc.message)
        raise
    import_log.record("api", entity, current_user, report, dry_run=dry_run)
    return jsonify(report)  # a response: spectree does not walk 10,000 report rows again
