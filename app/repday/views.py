"""``/sales/today``: the rep's day as a page, with one-click actions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.repday import service

bp = Blueprint("repday", __name__, url_prefix="/sales")


def _reps() -> list[tuple[str, str]]:
    from app.auth.models import User

    if current_user.role == "rep":
        return []
    stmt = select(User).where(User.role == "rep", User.active.is_(True)).order_by(User.name)
    if not current_user.sees_all_territories:
        stmt = stmt.where(User.territory_id == current_user.territory_id)
    return [(u.public_id, u.name) for u in db.session.scalars(stmt)]


@bp.get("/today")
def page() -> ResponseReturnValue:
    chosen = request.args.get("rep") or None
    rep = service.rep_or_404(chosen) if chosen else current_user
    service.may_see(current_user, rep)
    rows = service.day_for(rep)
    return render_template(
        "repday/page.html", rows=rows, rep=rep, reps=_reps(), own=rep.id == current_user.id
    )


@bp.post("/today/<customer_id>/<action>")
def act(customer_id: str, action: str) -> ResponseReturnValue:
    if action not in ("call", "done", "snooze"):
        abort(404)
    try:
        days = int(request.form.get("days") or 1)
        service.act(
            current_user, current_user, customer_id, action, days=days,
            note=(request.form.get("note") or "").strip() or None,
        )  # fmt: skip
        flash({"call": "Call logged.", "done": "Done for today."}.get(action, "Snoozed."))
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.text(), "danger")
    except ValueError:
        flash("days must be a number", "danger")
    return redirect(url_for("repday.page"))
