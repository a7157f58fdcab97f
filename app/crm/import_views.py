"""The import page: upload a CSV, map its columns, dry-run, run in the background, and
read the report (with the rejected rows as CSV); and the log of every import."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, select

from app.api.limits import body_limit
from app.auth.access import role_required
from app.auth.models import User
from app.crm import imports
from app.crm.imports import import_log, job
from app.crm.imports.batches import preview
from app.crm.imports.csvfile import CsvError, CsvSource, field_names, match_columns
from app.crm.imports.import_log import ImportRun
from app.extensions import db
from app.ids import new_public_id

bp = Blueprint("crm_import", __name__, url_prefix="/sales/import")

#: the largest upload the page takes (a 200,000-customer export is about 40 MB)
UPLOAD_BODY = 512 * 1024 * 1024
SKIP = "-"
CUSTOM = "customFields"
PREVIEW_ROWS = 5
REPORT_ROWS = 100


def allowed_entities() -> list[str]:
    return [name for name, spec in imports.ENTITIES.items() if current_user.role in spec.roles]


def visible_imports() -> Select[ImportRun]:
    """The log as the current user may see it (managers do not see user imports)."""
    stmt = select(ImportRun).order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
    hidden = [name for name in imports.ENTITIES if name not in allowed_entities()]
    if hidden:
        stmt = stmt.where(ImportRun.entity.not_in(hidden))
    return stmt


def import_or_404(public_id: str) -> ImportRun:
    entry = db.session.scalar(select(ImportRun).where(ImportRun.public_id == public_id))
    if entry is None or entry.entity not in allowed_entities():
        abort(404)
    return entry


def _page_import(public_id: str) -> ImportRun:
    entry = import_or_404(public_id)
    if entry.source != "page" or not entry.file_path:
        abort(404)  # API and CLI imports have no file here
    return entry


@bp.get("")
@role_required("admin", "manager")
def index() -> ResponseReturnValue:
    return _index()


def _index(
    errors: dict[str, str] | None = None, entity: str = "", status: int = 200
) -> ResponseReturnValue:
    log_rows = db.session.scalars(visible_imports().limit(50)).all()
    return (
        render_template(
            "crm/import.html",
            entities=allowed_entities(),
            chosen=entity,
            errors=errors or {},
            imports=log_rows,
        ),
        status,
    )


@bp.post("")
@role_required("admin", "manager")
@body_limit(UPLOAD_BODY)
def upload() -> ResponseReturnValue:
    """Keep the file (streamed to the instance folder), settle its encoding and header,
    match its columns; nothing is written when the file cannot be read."""
    entity = request.form.get("entity", "")
    upload_file = request.files.get("file")
    errors: dict[str, str] = {}
    if entity not in allowed_entities():
        errors["entity"] = "Choose what the file holds."
    if upload_file is None or not upload_file.filename:
        errors["file"] = "Choose a CSV file."
    if errors or upload_file is None or not upload_file.filename:
        return _index(errors, entity, 400)
    public_id = new_public_id(ImportRun.id_prefix)
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{public_id}.csv"
    upload_file.save(path)  # copied in chunks from werkzeug's spooled temporary file
    source = CsvSource(path, entity)
    try:
        source.read_header()
    except CsvError as exc:
        path.unlink(missing_ok=True)
        return _index({"file": f"{upload_file.filename}: {exc}"}, entity, 400)
    columns, _ = match_columns(entity, source.headers, {})
    entry = ImportRun(
        public_id=public_id,
        user_id=current_user.id,
        actor=current_user.email,
        source="page",
        entity=entity,
        file_name=Path(upload_file.filename).name[:255],
        status=import_log.MAPPED,
        file_path=str(path),
        encoding=source.encoding,
        mapping={h: columns.get(at, SKIP) for at, h in enumerate(source.headers)},
    )
    db.session.add(entry)
    db.session.commit()
    return redirect(url_for("crm_import.show", import_id=public_id))


@bp.get("/<import_id>")
@role_required("admin", "manager")
def show(import_id: str) -> ResponseReturnValue:
    return _show(_page_import(import_id))


def custom_key(header: str) -> str:
    """A column's custom field key: an identifier, as template tokens need
    (``Wine club`` -> ``wine_club``)."""
    key = re.sub(r"\W+", "_", header.strip().lower()).strip("_")[:40] or "field"
    return key if key.isidentifier() else f"f_{key}"[:40]


def _choices(entity: str, header: str) -> list[tuple[str, str]]:
    fields = [name for name in field_names(entity) if not name.startswith(CUSTOM)]
    out = [(SKIP, "— skip —"), *((name, name) for name in fields)]
    if entity == "customers":
        key = custom_key(header)
        out.append((f"{CUSTOM}.{key}", f"custom field {key}"))
    return out


def _show(
    entry: ImportRun, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    source = job.source_of(entry)
    source.read_header()
    columns = [
        (at, header, entry.mapping.get(header, SKIP), _choices(entry.entity, header))
        for at, header in enumerate(source.headers)
    ]
    rows: list[tuple[int, dict[str, str]]] = []
    problem = None
    try:
        source.match()
        rows = [(line, _display(row)) for line, row in preview(source, PREVIEW_ROWS)]
    except CsvError as exc:
        problem = str(exc).replace("--map COLUMN=externalId", "a column mapped to externalId")
    return (
        render_template(
            "crm/import_show.html",
            entry=entry,
            columns=columns,
            preview=rows,
            preview_fields=_fields_of(rows),
            problem=problem,
            errors=errors or {},
            report=_rejects_sample(entry),
            invites=_invites_once(entry),
            can_resume=entry.status == import_log.FAILED or job.stalled(entry),
        ),
        status,
    )


def _display(row: dict[str, Any]) -> dict[str, str]:
    """A row as the preview shows it: custom fields one column each, an order's lines as
    ``sku × quantity @ price`` joined."""
    out: dict[str, str] = {}
    for name, value in row.items():
        if name == CUSTOM and isinstance(value, dict):
            out.update({f"{CUSTOM}.{k}": str(v) for k, v in value.items()})
        elif name == "lines" and isinstance(value, list):
            out[name] = "; ".join(
                f"{line.get('sku', '?')} × {line.get('quantity', '?')}"
                + (f" @ {line['unitPrice']}" if "unitPrice" in line else "")
                for line in value
            )
        else:
            out[name] = str(value)
    return out


def _fields_of(rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    seen: dict[str, None] = {}
    for _, row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _invites_once(entry: ImportRun) -> list[tuple[User, str]]:
    """The invite links of the users a finished import created, for the admin who ran it,
    once: the list of whom is removed as they are shown (a user who has set a password
    since is left out). Later, "New invite" on the Users page makes another."""
    path = entry.invites_path
    if (
        entry.status != import_log.DONE
        or entry.user_id != current_user.id
        or path is None
        or not path.exists()
    ):
        return []
    from app.auth.invites import invite_url

    wanted = path.read_text(encoding="utf-8").split()
    path.unlink()
    users = db.session.scalars(
        select(User)
        .where(User.public_id.in_(wanted), User.password_hash.is_(None), User.active)
        .order_by(User.name, User.id)
    ).all()
    return [(user, invite_url(user.public_id)) for user in users]


def _rejects_sample(entry: ImportRun) -> list[list[str]]:
    """The first rejected rows (line, cells..., reasons) of the last run, if any."""
    path = entry.rejects_path
    if entry.rejected == 0 or path is None or not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(itertools.islice(csv.reader(handle), 1, REPORT_ROWS + 1))


@bp.post("/<import_id>")
@role_required("admin", "manager")
def map_and_run(import_id: str) -> ResponseReturnValue:
    """Save the column mapping; then, per the button, dry-run or run in the background."""
    entry = _page_import(import_id)
    action = request.form.get("action", "save")
    if entry.active:
        flash("This import is already queued or running.", "warning")
        return _show(entry, status=409)
    source = job.source_of(entry)
    source.read_header()
    mapping, errors = _mapping_from_form(entry.entity, source.headers)
    date_format = (request.form.get("date_format") or "").strip()[:40] or None
    if errors:
        return _show(entry, errors, 400)
    entry.mapping, entry.date_format = mapping, date_format
    db.session.commit()
    if action in ("dry-run", "run"):
        job.start(entry, dry_run=action == "dry-run")
    return redirect(url_for("crm_import.show", import_id=import_id))


def _mapping_from_form(entity: str, headers: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    mapping: dict[str, str] = {}
    errors: dict[str, str] = {}
    used: dict[str, str] = {}
    for at, header in enumerate(headers):
        value = request.form.get(f"col-{at}", SKIP)
        if value not in {key for key, _ in _choices(entity, header)}:
            errors[f"col-{at}"] = f"{header}: no field {value!r}"
            continue
        if value != SKIP and value in used:
            errors[f"col-{at}"] = f"{header}: {value} is already read from {used[value]}"
            continue
        used[value] = header
        mapping[header] = value
    if not errors and "externalId" not in used:
        errors["mapping"] = "Map one column to externalId: imports match records by it."
    return mapping, errors


@bp.post("/<import_id>/resume")
@role_required("admin", "manager")
def resume(import_id: str) -> ResponseReturnValue:
    """Run an interrupted import again from its last recorded batch."""
    entry = _page_import(import_id)
    if not (entry.status == import_log.FAILED or job.stalled(entry)):
        flash("Only a failed or stalled import can be resumed.", "warning")
        return _show(entry, status=409)
    job.resume(entry)
    return redirect(url_for("crm_import.show", import_id=import_id))


@bp.get("/<import_id>/status")
@role_required("admin", "manager")
def status(import_id: str) -> ResponseReturnValue:
    """What the progress bar polls."""
    entry = import_or_404(import_id)
    return entry.to_json()


@bp.get("/<import_id>/rejects.csv")
@role_required("admin", "manager")
def rejects(import_id: str) -> ResponseReturnValue:
    entry = _page_import(import_id)
    path = entry.rejects_path
    if path is None or not path.exists():
        abort(404)
    if entry.active:
        abort(409)  # still being written
    name = Path(entry.file_name or "import").stem
    return send_file(
        path,
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"{name}-rejected.csv",
        max_age=0,
    )
