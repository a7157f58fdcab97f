"""``/settings/webhooks``: admins register endpoints, see each delivery's attempts, resend."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length

from app.auth.access import role_required
from app.errors import DomainError
from app.extensions import db
from app.outbound import services
from app.outbound.events import EVENT_TYPES
from app.outbound.models import OutboundEndpoint

bp = Blueprint("outbound", __name__, url_prefix="/settings/webhooks")
PER_PAGE = 25


@bp.before_request
@role_required("admin")
def _admins_only() -> None:
    return None


class EndpointForm(FlaskForm):
    url = StringField("URL", validators=[DataRequired(), Length(max=2000)])
    description = StringField("Description", validators=[Length(max=200)])
    events = SelectMultipleField(
        "Events",
        choices=[(event, event) for event in EVENT_TYPES],
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )
    active = BooleanField("Active", default=True)


class ActionForm(FlaskForm):
    """CSRF only (delete, resend, reveal, rotate)."""


def _save(form: EndpointForm, endpoint: OutboundEndpoint | None) -> OutboundEndpoint | None:
    """Create or update from the form; None (with the errors on the form) if refused."""
    if not form.validate_on_submit():
        return None
    try:
        if endpoint is None:
            endpoint, secret = services.create_endpoint(
                form.url.data or "",
                form.events.data or [],
                description=form.description.data,
                active=bool(form.active.data),
                user=current_user,
            )
            flash(
                f"Endpoint added. Its signing secret (copy it now; 'Show secret' shows it "
                f"again): {secret}",
                "success",
            )
            return endpoint
        changes = {
            "url": form.url.data,
            "events": form.events.data or [],
            "description": form.description.data,
            "active": bool(form.active.data),
        }
        return services.update_endpoint(endpoint, changes)
    except DomainError as exc:
        db.session.rollback()
        for name, message in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message]
        if not exc.fields:
            flash(exc.text(), "danger")
        return None


@bp.route("", methods=["GET", "POST"])
def index() -> ResponseReturnValue:
    form = EndpointForm()
    if request.method == "POST":
        endpoint = _save(form, None)
        if endpoint is not None:
            return redirect(url_for("outbound.detail", endpoint_id=endpoint.public_id))
    endpoints = db.session.scalars(db.select(OutboundEndpoint).order_by(OutboundEndpoint.id)).all()
    status = 422 if form.errors else 200
    return (
        render_template(
            "outbound/index.html",
            form=form,
            endpoints=endpoints,
            disabled=services.disabled_endpoints(),
            event_types=EVENT_TYPES,
        ),
        status,
    )


@bp.route("/<endpoint_id>", methods=["GET", "POST"])
def detail(endpoint_id: str) -> ResponseReturnValue:
    endpoint = services.get_endpoint(endpoint_id)
    form = EndpointForm(obj=endpoint if request.method == "GET" else None)
    if request.method == "POST" and _save(form, endpoint) is not None:
        flash("Endpoint saved.", "success")
        return redirect(url_for("outbound.detail", endpoint_id=endpoint.public_id))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pagination = db.paginate(
        services.deliveries(endpoint), page=page, per_page=PER_PAGE, error_out=False
    )
    return (
        render_template(
            "outbound/detail.html",
            endpoint=endpoint,
            form=form,
            action=ActionForm(),
            pagination=pagination,
            secret=None,
            disabled=services.disabled_endpoints(),
        ),
        422 if form.errors else 200,
    )


@bp.post("/<endpoint_id>/secret")
def secret(endpoint_id: str) -> ResponseReturnValue:
    """Show (``rotate`` absent) or replace the signing secret; a POST so it is never
    cached or prefetched."""
    endpoint = services.get_endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
        return redirect(url_for("outbound.detail", endpoint_id=endpoint_id))
    if request.form.get("rotate"):
        value = services.rotate_secret(endpoint)
        flash("A new secret was made; the old one no longer signs anything.", "warning")
    else:
        value = services.reveal_secret(endpoint)
    pagination = db.paginate(
        services.deliveries(endpoint), page=1, per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "outbound/detail.html",
        endpoint=endpoint,
        form=EndpointForm(obj=endpoint),
        action=ActionForm(),
        pagination=pagination,
        secret=value,
        disabled=services.disabled_endpoints(),
    )


@bp.post("/<endpoint_id>/deliveries/<delivery_id>/resend")
def resend(endpoint_id: str, delivery_id: str) -> ResponseReturnValue:
    endpoint = services.get_endpoint(endpoint_id)
    delivery = services.get_delivery(endpoint, delivery_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired; try again.", "danger")
    else:
        try:
            services.resend(delivery)
            db.session.refresh(delivery)
            if delivery.status == "succeeded":
                flash("Sent again: the endpoint accepted it.", "success")
            else:
                flash(f"Sent again: {delivery.last_error or delivery.status}.", "warning")
        except DomainError as exc:
            flash(exc.text(), "danger")
    return redirect(url_for("outbound.detail", endpoint_id=endpoint_id))


@bp.route("/<endpoint_id>/delete", methods=["GET", "POST"])
def delete(endpoint_id: str) -> ResponseReturnValue:
    """A confirmation page; its POST deletes."""
    endpoint = services.get_endpoint(endpoint_id)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        services.delete_endpoint(endpoint)
        flash(f"Endpoint {endpoint.url} deleted.", "success")
        return redirect(url_for("outbound.index"))
    return render_template("outbound/delete.html", endpoint=endpoint, form=form)
