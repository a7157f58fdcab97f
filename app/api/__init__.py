"""The JSON contract: error envelope, OpenAPI document, docs page, job status."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    jsonify,
    render_template,
    request,
    send_from_directory,
)
from flask.typing import ResponseReturnValue

from app import jobs
from app.api import errors
from app.api.errors import ApiError
from app.api.spec import ApiResponse, OutModel, api, openapi_document, responses
from app.auth.access import public
from app.current import app_object

bp = Blueprint("api", __name__, url_prefix="/api")
_SWAGGER_FILES = {"swagger-ui.css": "css", "swagger-ui-bundle.js": "js"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_ACCEPTED_BODIES = {"application/json", "application/x-ndjson", "multipart/form-data"}


class JobOut(OutModel):
    id: str
    status: str
    error: str | None


@bp.get("/openapi.json")
@public
def openapi_json() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, generated from the models that validate requests."""
    return jsonify(openapi_document(app_object()))


@bp.get("/docs")
@public
def docs() -> ResponseReturnValue:
    return render_template("api/docs.html")


@bp.get("/docs/assets/<name>")
@public
def docs_asset(name: str) -> ResponseReturnValue:
    """Swagger UI 5 served from an installed package's files, never a CDN."""
    if name not in _SWAGGER_FILES:
        abort(404)
    return send_from_directory(_swagger_dir() / _SWAGGER_FILES[name], name, max_age=86400)


def _swagger_dir() -> Path:
    # flask-openapi3-swagger ships Swagger UI's dist files; found without importing it.
    spec = importlib.util.find_spec("flask_openapi3_swagger")
    if spec is None or not spec.submodule_search_locations:
        abort(404)
    return Path(spec.submodule_search_locations[0]) / "templates" / "swagger"


@bp.get("/jobs/<job_id>")
@api.validate(resp=responses(HTTP_200=JobOut, HTTP_404=None), tags=["jobs"])
def job(job_id: str) -> ApiResponse:
    """The state of a background job (refreshes, syncs, campaigns)."""
    handle = jobs.job_status(job_id)
    if handle is None:
        raise errors.not_found("job")
    return handle.to_json()


def init_app(app: Flask) -> None:
    errors.init_app(app)

    @app.before_request
    def check_json_body() -> None:
        """Malformed JSON is a 400 and a body that is not JSON a 415, before any view."""
        if not request.path.startswith("/api/") or request.method not in _BODY_METHODS:
            return
        if "/webhooks/" in request.path:
            return  # providers post form bodies; their views verify and parse them
        if not request.content_length and not request.data:
            return
        if request.mimetype not in _ACCEPTED_BODIES:
            raise ApiError(
                415, "unsupported_media_type", "Send JSON with Content-Type: application/json"
            )
        if request.mimetype == "application/json" and request.get_json(silent=True) is None:
            raise ApiError(400, "malformed_json", "Body is not valid JSON", {"body": "invalid"})

    app.register_blueprint(bp)
