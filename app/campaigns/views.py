"""Campaign pages: the index, one compose page for every channel, the review before a
send (with its explicit confirmation), and the report (live while sending)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func

from app.campaigns import registry, reports, review, service, zones
from app.campaigns.forms import WINNER_LABELS, ActionForm, ComposeForm, ConfirmSendForm
from app.campaigns.registry import Content
from app.crm.scoping import get_visible_customer
from app.errors import DomainError, NotFound
from app.experiments import campaigns as ab_tests
from app.extensions import db
from app.form_errors import add_api_error, form_field_name
from app.messaging import audiences
from app.messaging import templates as tpl
from app.messaging.models import CAMPAIGN_STATUSES, Campaign
from app.tables import TableSpec

bp = Blueprint(
    "campaigns", __name__, url_prefix="/sales/marketing/campaigns", template_folder="templates"
)
#: statuses whose page keeps polling for progress
LIVE = ("scheduled", "preparing", "sending")


def _campaign_or_404(campaign_id: str) -> Campaign:
    try:
        return service.get(campaign_id, current_user)
    except NotFound:
        abort(404)


def _zone() -> str:
    return zones.user_zone(current_user)


@bp.app_template_filter("in_my_zone")
def in_my_zone(when: datetime | None) -> str:
    """A UTC time as the reader's wall clock, with the zone's abbreviation."""
    return zones.show(when, _zone())


def _day(value: str | None) -> datetime | None:
    try:
        return zones.as_utc(datetime.strptime(value or "", "%Y-%m-%d"), _zone())
    except ValueError:
        return None


# --- index ---------------------------------------------------------------------------


#: The campaigns table: what it may sort by and what the search box matches.
CAMPAIGNS_TABLE = TableSpec(
    columns={
        "name": func.lower(Campaign.name),
        "channel": Campaign.channel,
        "audience": func.lower(Campaign.audience_name),
        "status": Campaign.status,
        "recipients": Campaign.recipients_total,
        "created": Campaign.created_at,
    },
    default_sort="created",
    search=(Campaign.name, Campaign.audience_name, Campaign.subject),
    tiebreak=Campaign.id,
    desc_first=frozenset({"created", "recipients"}),
)


@bp.get("")
def index() -> str:
    """Campaigns with open and click rates; filter by channel, status and date."""
    channel = request.args.get("channel") or None
    status = request.args.get("status") or None
    if status not in (None, *CAMPAIGN_STATUSES):
        status = None
    since = _day(request.args.get("since"))
    until = _day(request.args.get("until"))
    stmt = service.visible(
        current_user, channel, status, since, until + timedelta(days=1) if until else None
    )
    table = CAMPAIGNS_TABLE.from_request()
    pagination = table.paginate(stmt)
    rows = [reports.campaign_json(c) for c in pagination.items]
    return render_template(
        "campaigns/index.html",
        table=table,
        pagination=pagination,
        rows=rows,
        channels=registry.channels(),
        statuses=CAMPAIGN_STATUSES,
        filters=request.args,
    )


# --- compose -------------------------------------------------------------------------


def _prepare_form(form: ComposeForm, channel: str) -> None:
    tpl.ensure_defaults()
    form.channel.data = channel
    form.list_id.choices = [("", "— choose a list —")] + audiences.choices("list", current_user)
    form.template_id.choices = [("", "— write your own —")] + [
        (t.public_id, t.name) for t in db.session.scalars(tpl.templates_query(channel))
    ]
    support = registry.support(channel)
    if support is not None and ab_tests.supports(support):  # the channel's own measures
        allowed = ab_tests.winner_choices(support)
        labels = dict(WINNER_LABELS)
        form.winner_by.choices = [(name, labels[name]) for name in allowed if name in labels]
        if form.winner_by.data not in allowed:
            form.winner_by.data = ab_tests.default_winner_by(support)


def _ab_test_from(form: ComposeForm, campaign: Campaign | None) -> ab_tests.ABTestInput | None:
    """The A/B settings typed (None: no test; an edited campaign's test is removed
    when the box is unticked)."""
    if not form.ab_enabled.data:
        return ab_tests.ABTestInput(variants=[]) if campaign and campaign.ab_test else None
    count = int(form.ab_variant_count.data or 2)
    variants = [
        ab_tests.VariantInput(
            name=ab_tests.NAMES[index],
            subject=entry.subject.data or None,
            html=entry.html.data or None,
            body=entry.body.data or None,
            from_name=entry.from_name.data or None,
            send_delay_minutes=entry.send_delay_minutes.data,
        )
        for index, entry in enumerate(list(form.variants)[:count])
    ]
    share = form.test_share.data
    return ab_tests.ABTestInput(
        variants=variants,
        test_share=share / 100 if share else None,
        wait_minutes=form.wait_minutes.data,
        winner_by=form.winner_by.data,
        fallback_variant=form.fallback_variant.data,
    )


def _fill_ab_test(form: ComposeForm, settings: dict[str, Any] | None) -> None:
    """An edited campaign's A/B settings in the form."""
    if not settings:
        return
    form.ab_enabled.data = True
    form.ab_variant_count.data = str(len(settings["variants"]))
    for entry, variant in zip(form.variants, settings["variants"], strict=False):
        entry.subject.data = variant["subject"]
        entry.html.data = variant["html"]
        entry.body.data = variant.get("body")
        entry.from_name.data = variant["fromName"]
        entry.send_delay_minutes.data = variant["sendDelayMinutes"] or None
    form.test_share.data = round(settings["testShare"] * 100)
    form.wait_minutes.data = settings["waitMinutes"]
    form.winner_by.data = settings["winnerBy"]
    form.fallback_variant.data = settings["fallbackVariant"]


_VARIANT_FIELD = re.compile(r"^variants\[(\d)\]\.(\w+)$")


def _add_error(form: ComposeForm, exc: DomainError) -> None:
    """The service's refusal on the form; a variant's field (``variants[1].fromName``)
    beside that field in its fieldset."""
    rest = {}
    for name, message in exc.fields.items():
        found = _VARIANT_FIELD.match(name)
        target = None
        if found and int(found.group(1)) < len(form.variants):
            entry = form.variants[int(found.group(1))].form
            target = getattr(entry, form_field_name(found.group(2)), None)
        if target is not None:
            target.errors = [*target.errors, message]
        else:
            rest[name] = message
    if rest or not exc.fields:
        add_api_error(form, DomainError(exc.message, rest), {"variants": "ab_enabled"})


def _draft_from(form: ComposeForm, campaign: Campaign | None = None) -> service.Draft:
    when = form.scheduled_at.data
    return service.Draft(
        channel=form.channel.data,
        list_id=form.list_id.data,
        name=form.name.data or None,
        content=Content(
            subject=form.subject.data or None,
            html=form.html.data or None,
            body=form.body.data or None,
            template_id=form.template_id.data or None,
        ),
        scheduled_at=when,  # typed in the manager's zone (no offset): the service reads it so
        send_local_time=bool(form.send_local_time.data),
        include_sunset=bool(form.include_sunset.data),
        holdout_percent=form.holdout_percent.data or 0,
        ab_test=_ab_test_from(form, campaign),
    )


def _after_save(campaign: Campaign) -> Any:
    if request.form.get("next") == "review":
        return redirect(url_for("campaigns.review_page", campaign_id=campaign.public_id))
    flash(f"Draft “{campaign.name}” saved.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.public_id))


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    """Channel first (``?channel=``), then the list, the message, the sender and the
    schedule; saved as a draft, then reviewed before anything is sent."""
    channel = request.values.get("channel") or ""
    if registry.support(channel) is None:
        return render_template("campaigns/choose_channel.html", channels=registry.channels())
    form = ComposeForm()
    _prepare_form(form, channel)
    if form.validate_on_submit():
        try:
            created = service.create(current_user, _draft_from(form))
        except DomainError as exc:
            _add_error(form, exc)
        else:
            return _after_save(created)
    return _compose_page(form, channel, None)


def _compose_page(form: ComposeForm, channel: str, campaign: Campaign | None) -> Any:
    support = registry.require(channel)
    page = render_template(
        "campaigns/compose.html",
        form=form,
        channel=support,
        campaign=campaign,
        sender=support.sender(),
        zone=_zone(),
    )
    return page, (422 if request.method == "POST" else 200)


@bp.route("/<campaign_id>/edit", methods=["GET", "POST"])
def edit(campaign_id: str) -> Any:
    """Change a draft, or a scheduled campaign until it starts."""
    campaign = _campaign_or_404(campaign_id)
    if campaign.status not in service.EDITABLE:
        flash(f"A campaign that is {campaign.status} cannot be changed; duplicate it.", "warning")
        return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    form = ComposeForm()
    _prepare_form(form, campaign.channel)
    if request.method == "GET":
        form.name.data = campaign.name
        form.list_id.data = campaign.audience_ref
        form.subject.data, form.html.data, form.body.data = (
            campaign.subject,
            campaign.html,
            campaign.body,
        )
        if campaign.template_id and campaign.body is None and campaign.html is None:
            from app.messaging.models import Template

            template = db.session.get(Template, campaign.template_id)
            form.template_id.data = template.public_id if template else ""
        shown = zones.local(campaign.scheduled_at, _zone())
        form.scheduled_at.data = shown.replace(tzinfo=None) if shown else None
        form.send_local_time.data = campaign.send_local_time
        form.include_sunset.data = campaign.include_sunset
        form.holdout_percent.data = campaign.holdout_percent
        _fill_ab_test(form, campaign.ab_test)
    elif form.validate_on_submit():
        draft = _draft_from(form, campaign)
        try:
            if draft.scheduled_at is None:  # the time was cleared: send when confirmed
                if campaign.status == "scheduled":
                    service.unschedule(campaign)
                campaign.scheduled_at = None
            service.update(campaign, current_user, draft)
        except DomainError as exc:
            db.session.rollback()
            _add_error(form, exc)
        else:
            return _after_save(campaign)
    return _compose_page(form, campaign.channel, campaign)


# --- review and send -----------------------------------------------------------------


@bp.route("/<campaign_id>/review", methods=["GET", "POST"])
def review_page(campaign_id: str) -> Any:
    """Who gets it and who not (and why), the message for a recipient of your choice,
    when, through which provider, how long; the send needs a tick naming the count."""
    campaign = _campaign_or_404(campaign_id)
    if campaign.status not in service.EDITABLE:
        return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    customer = None
    if request.args.get("customer"):
        customer = get_visible_customer(request.args["customer"], current_user)
    form = ConfirmSendForm()
    try:
        data = review.review(campaign, current_user, customer)
    except DomainError as exc:
        flash(exc.text(), "danger")
        return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    count = data["audience"]["recipients"]
    status = 200
    if request.method == "POST":
        status = 422
        if not form.validate_on_submit():
            pass  # the tick's message shows beside it
        elif form.count.data != str(count):
            form.confirm.errors = [
                f"The audience is now {count:,} people: check the numbers and confirm again."
            ]
        else:
            try:
                if campaign.scheduled_at is not None:
                    service.schedule(campaign, current_user, None)
                    flash(f"Scheduled for {in_my_zone(campaign.scheduled_at)}.", "success")
                else:
                    service.send_now(campaign, current_user)
                    flash(f"Sending to {count:,} people.", "success")
            except DomainError as exc:
                db.session.rollback()
                form.confirm.errors = [exc.text()]
            else:
                return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
    form.count.data = str(count)
    page = render_template(
        "campaigns/review.html",
        campaign=campaign,
        data=data,
        count=count,
        form=form,
        action_form=ActionForm(),
        channel=registry.require(campaign.channel),
    )
    return page, status


@bp.post("/<campaign_id>/test")
def send_test(campaign_id: str) -> Any:
    campaign = _campaign_or_404(campaign_id)
    if ActionForm().validate_on_submit():
        try:
            to = service.send_test(campaign, current_user)
        except DomainError as exc:
            flash(f"Test not sent: {exc.text()}", "danger")
        else:
            flash(f"Test sent to {to}.", "success")
    back = request.form.get("back") or url_for("campaigns.review_page", campaign_id=campaign_id)
    return redirect(back if back.startswith("/") else "/")


# --- actions -------------------------------------------------------------------------

ACTIONS = ("pause", "resume", "cancel", "duplicate", "unschedule")


@bp.get("/<campaign_id>/cancel")
def confirm_cancel(campaign_id: str) -> str:
    """Cancelling is asked first, on a page of its own (works without JavaScript)."""
    campaign = _campaign_or_404(campaign_id)
    return render_template(
        "campaigns/confirm_cancel.html", campaign=campaign, action_form=ActionForm()
    )


@bp.post("/<campaign_id>/<action>")
def action(campaign_id: str, action: str) -> Any:
    """Pause, resume, cancel (posted from its confirmation page), duplicate, unschedule."""
    if action not in ACTIONS:
        abort(404)
    campaign = _campaign_or_404(campaign_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    target = campaign
    try:
        if action == "duplicate":
            target = service.duplicate(campaign, current_user)
            flash(f"Draft “{target.name}” created.", "success")
            return redirect(url_for("campaigns.edit", campaign_id=target.public_id))
        if action == "unschedule":
            service.unschedule(campaign)
            flash("Unscheduled: the campaign is a draft again.", "success")
        else:
            service.change_state(campaign, action)
    except DomainError as exc:
        flash(exc.text(), "danger")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))


# --- report --------------------------------------------------------------------------


def _recipient_filters() -> tuple[str | None, str | None]:
    status = request.args.get("status") or None
    engagement = request.args.get("engagement") or None
    return status, engagement


@bp.get("/<campaign_id>")
def detail(campaign_id: str) -> str:
    campaign = _campaign_or_404(campaign_id)
    data = reports.campaign_json(campaign, detail=True)
    status, engagement = _recipient_filters()
    if status not in (None, *reports.STATUS_FILTERS):
        status = None
    filters = reports.engagement_filters(campaign.channel)
    if engagement not in (None, *filters):
        engagement = None
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    recipients = reports.recipients_page(campaign, status, engagement, page, 50)
    recipients["pages"] = max(1, -(-recipients["total"] // 50))
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        data=data,
        live=campaign.status in LIVE,
        links=reports.links(campaign),
        recipients=recipients,
        status_filter=status,
        engagement_filter=engagement,
        statuses=reports.STATUS_FILTERS,
        engagements=filters,
        action_form=ActionForm(),
        decided_at=_decided_at(campaign),
    )


def _decided_at(campaign: Campaign) -> datetime | None:
    made = campaign.ab_decision or {}
    return datetime.fromisoformat(made["decidedAt"]) if made.get("decidedAt") else None


@bp.get("/<campaign_id>/progress")
def progress(campaign_id: str) -> str:
    """The live part of the report (status, counts, progress, chart data), polled by
    htmx every two seconds while the campaign is scheduled or sending."""
    campaign = _campaign_or_404(campaign_id)
    return render_template(
        "campaigns/_progress.html",
        campaign=campaign,
        data=reports.campaign_json(campaign, detail=True),
        live=campaign.status in LIVE,
        action_form=ActionForm(),
    )


@bp.get("/<campaign_id>/recipients.csv")
def recipients_csv(campaign_id: str) -> Response:
    campaign = _campaign_or_404(campaign_id)
    status, engagement = _recipient_filters()
    lines = reports.recipients_csv(campaign, status, engagement, _zone())
    name = f"{campaign.public_id}-recipients.csv"
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/<campaign_id>/preview.html")
def preview_html(campaign_id: str) -> Response:
    """An email campaign as one recipient gets it, for the review's framed previews
    (its own strict policy: no scripts, inline styles allowed, shown sandboxed)."""
    campaign = _campaign_or_404(campaign_id)
    customer = get_visible_customer(request.args.get("customer", ""), current_user)
    if customer is None:
        abort(404)
    rendered = registry.require(campaign.channel).preview(campaign, customer)
    response = Response(rendered.get("html") or "", mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'self'; sandbox"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
