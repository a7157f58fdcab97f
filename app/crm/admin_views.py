"""Admin pages for territories and the SKU catalogue: managers read, admins change.

Each page calls the same catalogue service as the API (:mod:`app.crm.catalogue`); a
refused change comes back on its form, field by field, with what was typed."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm

from app.auth.access import role_required
from app.crm import catalogue
from app.crm.admin_forms import SkuForm, TerritoryForm
from app.crm.contact import zone_names
from app.crm.models import Territory
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error

bp = Blueprint("crm_admin", __name__)

READERS = ("admin", "manager")
#: the service's field names that the forms call otherwise
ALIASES = {"externalId": "external_id", "unitPrice": "price", "specialPrice": "special_price"}
SKUS_PER_PAGE = 50


def _status(form: FlaskForm) -> int:
    return 422 if form.errors or form.form_errors else 200


# --- territories ------------------------------------------------------------------------


@bp.get("/admin/territories")
@role_required(*READERS)
def territories() -> ResponseReturnValue:
    return render_template(
        "crm/admin/territories.html",
        rows=catalogue.territories_with_counts(),
        can_edit=current_user.role == "admin",
    )


@bp.route("/admin/territories/new", methods=["GET", "POST"])
@role_required("admin")
def new_territory() -> ResponseReturnValue:
    form = TerritoryForm()
    if form.validate_on_submit():
        try:
            territory = catalogue.create_territory(
                {k: v for k, v in form.data.items() if k != "csrf_token"}
            )
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash(f"Territory {territory.name} is created.", "success")
            return redirect(url_for("crm_admin.territories"), 303)
    return _territory_form(form, None)


@bp.route("/admin/territories/<territory_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_territory(territory_id: str) -> ResponseReturnValue:
    territory = catalogue.find_territory(territory_id)
    form = TerritoryForm(obj=None if request.method == "POST" else territory)
    if form.validate_on_submit():
        try:
            catalogue.update_territory(
                territory, {k: v for k, v in form.data.items() if k != "csrf_token"}
            )
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash(f"Territory {territory.name} is saved.", "success")
            return redirect(url_for("crm_admin.territories"), 303)
    return _territory_form(form, territory)


def _territory_form(form: TerritoryForm, territory: Territory | None) -> ResponseReturnValue:
    html = render_template(
        "crm/admin/territory_form.html", form=form, territory=territory, zones=zone_names()
    )
    return html, _status(form)


# --- SKUs -------------------------------------------------------------------------------


def _page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        return 1


@bp.get("/admin/skus")
@role_required(*READERS)
def skus() -> ResponseReturnValue:
    """The catalogue, searched and paged in the database."""
    q = (request.args.get("q") or "").strip()[:200]
    pagination = db.paginate(
        catalogue.skus_query(q or None), page=_page_arg(), per_page=SKUS_PER_PAGE, error_out=False
    )
    return render_template(
        "crm/admin/skus.html", pagination=pagination, q=q, can_edit=current_user.role == "admin"
    )


@bp.route("/admin/skus/new", methods=["GET", "POST"])
@role_required("admin")
def new_sku() -> ResponseReturnValue:
    form = SkuForm()
    if form.validate_on_submit():
        try:
            sku = catalogue.create_sku(form.data_for_service())
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash(f"{sku.name} ({sku.code}) is in the catalogue.", "success")
            return redirect(url_for("crm_admin.skus", q=sku.code), 303)
    return render_template("crm/admin/sku_form.html", form=form, sku=None), _status(form)


@bp.route("/admin/skus/<sku_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_sku(sku_id: str) -> ResponseReturnValue:
    sku = catalogue.find_sku(sku_id)
    form = SkuForm(obj=None if request.method == "POST" else sku)
    if form.validate_on_submit():
        data = form.data_for_service()
        if sku.active and not data["active"] and request.form.get("confirmed") != "yes":
            # Taking a wine out of sale hides it from new orders: ask once more.
            return render_template("crm/admin/sku_form.html", form=form, sku=sku, confirm=True)
        try:
            catalogue.update_sku(sku, data)
        except DomainError as exc:
            db.session.rollback()
            add_api_error(form, exc, ALIASES)
        else:
            flash(f"{sku.name} ({sku.code}) is saved.", "success")
            return redirect(url_for("crm_admin.skus", q=sku.code), 303)
    return render_template("crm/admin/sku_form.html", form=form, sku=sku), _status(form)
