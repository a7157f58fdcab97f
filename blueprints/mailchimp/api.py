"""/api/sales/marketing/mailchimp: thin routes over the services (managers and admins)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from app.api.errors import ApiError, not_found
from app.api.spec import api, responses
from app.auth.access import role_required
from app.extensions import db
from app.messaging import audiences as audience_registry
from blueprints.mailchimp import campaigns, services, sync
from blueprints.mailchimp import schemas as s
from blueprints.mailchimp.client import with_retries
from blueprints.mailchimp.models import MailchimpCampaign
from providers.errors import NotFoundError, ProviderError

bp = Blueprint("mailchimp_api", __name__, url_prefix="/api/sales/marketing/mailchimp")
TAGS = ["mailchimp"]
MANAGERS = ("admin", "manager")


@bp.before_request
@role_required(*MANAGERS)
def _managers_only() -> None:
    return None


@bp.post("/connect")
@api.validate(json=s.ConnectIn, resp=responses(HTTP_201=s.StatusOut, HTTP_422=None), tags=TAGS)
def connect(json: s.ConnectIn):
    """Connect with an API key (``…-usNN``): checked, pinged, stored encrypted."""
    services.connect_api_key(json.api_key, current_user)
    return services.status_json(), 201


@bp.get("/connect")
@api.validate(resp=responses(HTTP_200=s.StatusOut), tags=TAGS)
def status():
    """Account name, data centre, connected at, last sync and errors."""
    return services.status_json()


@bp.delete("/connect")
@api.validate(resp=responses(HTTP_204=None), tags=TAGS)
def disconnect():
    """Disconnect and erase the stored key or token."""
    services.disconnect()
    return "", 204


@bp.get("/sync")
@api.validate(resp=responses(HTTP_200=s.AudiencesOut), tags=TAGS)
def audiences():
    """The account's audiences (id, name, member count) and the configured syncs."""
    return {
        "items": [services.audience_json(a) for a in services.list_audiences()],
        "syncs": [services.sync_json(x) for x in services.syncs()],
    }


@bp.post("/sync")
@api.validate(json=s.SyncIn, resp=responses(HTTP_202=s.SyncOut, HTTP_422=None), tags=TAGS)
def start_sync(json: s.SyncIn):
    """Sync a CRM list to an audience as a job; poll ``GET /sync/<id>`` for progress."""
    item = services.create_or_update_sync(
        current_user, json.list_id, json.audience_id, json.frequency_seconds
    )
    sync.start(item)
    db.session.refresh(item)
    return services.sync_json(item), 202


@bp.get("/sync/<sync_id>")
@api.validate(resp=responses(HTTP_200=s.SyncOut, HTTP_404=None), tags=TAGS)
def get_sync(sync_id: str):
    item = services.get_sync(sync_id)
    if item is None:
        raise not_found("sync")
    return services.sync_json(item)


@bp.delete("/sync/<sync_id>")
@api.validate(resp=responses(HTTP_204=None, HTTP_404=None), tags=TAGS)
def delete_sync(sync_id: str):
    item = services.get_sync(sync_id)
    if item is None:
        raise not_found("sync")
    db.session.delete(item)
    db.session.commit()
    return "", 204


@bp.post("/import")
@api.validate(json=s.ImportIn, resp=responses(HTTP_200=s.ImportOut, HTTP_422=None), tags=TAGS)
def import_audience(json: s.ImportIn):
    """Match an audience's members to customers by email (matched ids, unmatched emails).

    With ``listId`` the matched customers are added to that CRM list (through the audience
    registry, so this channel never touches the lists channel's tables).
    """
    client = services.require_client()
    try:
        result = with_retries(sync.match_audience, client, json.audience_id, current_user)
    except NotFoundError as exc:
        fields = {"audienceId": str(exc)}
        raise ApiError(422, "validation_error", "Unknown audience", fields) from exc
    except ProviderError as exc:
        raise ApiError(502, "provider_error", str(exc)) from exc
    if json.list_id:
        result["listId"] = json.list_id
        result["added"] = audience_registry.add_members(
            "list", json.list_id, result["customerIds"], current_user
        )
    return result


@bp.get("/campaigns")
@api.validate(resp=responses(HTTP_200=s.CampaignsOut), tags=TAGS)
def list_campaigns():
    rows = db.session.scalars(select(MailchimpCampaign).order_by(MailchimpCampaign.id.desc()))
    return {"items": [campaigns.campaign_json(c) for c in rows]}


@bp.post("/campaigns")
@api.validate(json=s.CampaignIn, resp=responses(HTTP_201=s.CampaignOut, HTTP_422=None), tags=TAGS)
def create_campaign(json: s.CampaignIn):
    """One click: a Mailchimp campaign for a synced list from a template; send or schedule."""
    item = campaigns.create(current_user, json.sync_id, json.template_id, json.subject)
    if json.send:
        campaigns.send_now(item, current_user)
    elif json.send_at is not None:
        campaigns.schedule(item, json.send_at, current_user)
    return campaigns.campaign_json(item), 201


def _campaign_or_404(campaign_id: str) -> MailchimpCampaign:
    item = campaigns.get_campaign(campaign_id)
    if item is None:
        raise not_found("campaign")
    return item


@bp.get("/campaigns/<campaign_id>")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=TAGS)
def get_campaign(campaign_id: str):
    return campaigns.campaign_json(_campaign_or_404(campaign_id))


@bp.post("/campaigns/<campaign_id>/send")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=TAGS)
def send_campaign(campaign_id: str):
    return campaigns.campaign_json(campaigns.send_now(_campaign_or_404(campaign_id), current_user))


@bp.post("/campaigns/<campaign_id>/schedule")
@api.validate(json=s.ScheduleIn, resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=TAGS)
def schedule_campaign(campaign_id: str, json: s.ScheduleIn):
    item = _campaign_or_404(campaign_id)
    return campaigns.campaign_json(campaigns.schedule(item, json.send_at, current_user))


@bp.post("/campaigns/<campaign_id>/report")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=TAGS)
def pull_report(campaign_id: str):
    """Pull sends, opens, clicks, bounces, unsubscribes (totals and per member) now."""
    item = _campaign_or_404(campaign_id)
    campaigns.pull_report(item.id)
    db.session.refresh(item)
    return campaigns.campaign_json(item)
