"""Browser libraries installed from the npm registry, served by the app (never a CDN).

``make install`` runs ``npm ci`` against the committed ``package-lock.json``; this module
serves the few built files pages load, by a short name, from ``node_modules``. A page
asks for ``url_for("vendor.asset", name="chart.js")``. Only the files listed here are
served, so nothing else in ``node_modules`` is reachable over HTTP.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory
from flask.typing import ResponseReturnValue

#: short name -> file under node_modules (a built, browser-ready file of each package)
ASSETS: dict[str, str] = {
    "chart.js": "chart.js/dist/chart.umd.js",
    "htmx.js": "htmx.org/dist/htmx.min.js",
    "grapes.js": "grapesjs/dist/grapes.min.js",
    "grapes.css": "grapesjs/dist/css/grapes.min.css",
    "grapesjs-mjml.js": "grapesjs-mjml/dist/index.js",
}

bp = Blueprint("vendor", __name__)


def node_modules() -> Path:
    configured = current_app.config.get("NODE_MODULES_DIR")
    if configured:
        return Path(configured)
    return Path(current_app.root_path).parent / "node_modules"


@bp.get("/vendor/<name>")
def asset(name: str) -> ResponseReturnValue:
    relative = ASSETS.get(name)
    if relative is None:
        abort(404)
    path = node_modules() / relative
    if not path.is_file():
        # make install was not run: say so rather than serving an empty page part
        current_app.logger.error("browser asset %s missing: run make install", relative)
        abort(404)
    return send_from_directory(path.parent, path.name, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
