"""``/settings/brand``: the company's name, logo and colours on customer pages, and the
email topics people may leave one by one. Admins change; managers read."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app import brand
from app.auth.access import public, role_required
from app.brand.forms import BrandForm, DeleteForm, TopicForm
from app.errors import DomainError
from app.extensions import db
from app.form_errors import add_api_error
from app.messaging import topics

bp = Blueprint("brand", __name__)


def _page(
    brand_form: BrandForm | None = None, topic_form: TopicForm | None = None, status: int = 200
) -> tuple[str, int]:
    now = brand.current()
    if brand_form is None:
        brand_form = BrandForm(formdata=None, data=now.__dict__)
    return render_template(
        "brand/settings.html",
        brand_form=brand_form,
        topic_form=topic_form or TopicForm(formdata=None),
        delete_form=DeleteForm(formdata=None),
        topics=topics.all_topics(),
        can_edit=current_user.role == "admin",
        preview=now,
    ), status


@bp.get("/settings/brand")
@role_required("admin", "manager")
def settings() -> tuple[str, int]:
    return _page()


@bp.post("/settings/brand")
@role_required("admin")
def save() -> Response | tuple[str, int]:
    form = BrandForm()
    if not form.validate_on_submit():
        return _page(brand_form=form, status=422)
    try:
        brand.update(
            company_name=form.company_name.data,
            logo_url=form.logo_url.data,
            primary_color=form.primary_color.data,
            accent_color=form.accent_color.data,
        )
    except DomainError as exc:
        db.session.rollback()
        add_api_error(form, exc)
        return _page(brand_form=form, status=exc.status)
    flash("Brand saved: customers see it on the unsubscribe and preference pages.", "success")
    return redirect(url_for("brand.settings"), 303)


@bp.post("/settings/topics")
@role_required("admin")
def add_topic() -> Response | tuple[str, int]:
    form = TopicForm()
    if not form.validate_on_submit():
        return _page(topic_form=form, status=422)
    try:
        topic = topics.create_topic(form.name.data or "", form.description.data)
    except DomainError as exc:
        db.session.rollback()
        add_api_error(form, exc)
        return _page(topic_form=form, status=exc.status)
    flash(f"Topic “{topic.name}” added: tie lists to it on each list's edit page.", "success")
    return redirect(url_for("brand.settings"), 303)


@bp.post("/settings/topics/<topic_id>/delete")
@role_required("admin")
def delete_topic(topic_id: str) -> Response:
    if DeleteForm().validate_on_submit():
        try:
            topic = topics.get_topic(topic_id)
        except DomainError as exc:
            flash(exc.message, "danger")
        else:
            topics.delete_topic(topic)
            flash(f"Topic “{topic.name}” deleted.", "info")
    return redirect(url_for("brand.settings"), 303)


@bp.get("/favicon.ico")
@public
def favicon() -> Response:
    """Browsers that ask for /favicon.ico get the app's icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.get("/brand.css")
@public
def brand_css() -> Response:
    """The brand's colours for the public pages (a stylesheet: the CSP allows no inline
    style)."""
    now = brand.current()
    css = render_template("brand/brand.css", brand=now)
    return Response(css, mimetype="text/css", headers={"Cache-Control": "no-cache"})
