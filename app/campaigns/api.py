"""/api/sales/marketing/campaigns: thin routes over :mod:`app.campaigns.service`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import current_user

from app.api.limits import TEMPLATE_BODY, body_limit
from app.api.pagination import paginate
from app.api.spec import api, responses
from app.campaigns import reports, review, service
from app.campaigns import schemas as s
from app.crm.scoping import get_visible_customer
from app.errors import Invalid

bp = Blueprint("campaigns_api", __name__, url_prefix="/api/sales/marketing")
TAGS = ["campaigns"]
#: what a route returns (spectree reads the annotations: names must resolve here)
Answer = dict[str, Any] | tuple[dict[str, Any], int]


def _out(campaign: Any) -> dict[str, Any]:
    return reports.campaign_json(campaign)


@bp.get("/campaigns")
@api.validate(query=s.CampaignQuery, resp=responses(HTTP_200=s.CampaignPage), tags=TAGS)
def list_campaigns(query: s.CampaignQuery) -> Answer:
    """Campaigns with counts, open and click rates (yours only, for reps); filter by
    channel, status and creation date (``since``, ``until``)."""
    stmt = service.visible(current_user, query.channel, query.status, query.since, query.until)
    return paginate(stmt, query.page, query.per_page, reports.campaign_json)


@bp.post("/campaigns")
@body_limit(TEMPLATE_BODY)
@api.validate(json=s.CampaignIn, resp=responses(HTTP_201=s.CampaignOut), tags=TAGS)
def create_campaign(json: s.CampaignIn) -> Answer:
    """Create a draft (nothing is sent until ``/schedule`` or ``/send``)."""
    return _out(service.create(current_user, json.draft())), 201


@bp.get("/campaigns/<campaign_id>")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=TAGS)
def get_campaign(campaign_id: str) -> Answer:
    """A campaign with its counts, progress, engagement and chart series."""
    return reports.campaign_json(service.get(campaign_id, current_user), detail=True)


@bp.patch("/campaigns/<campaign_id>")
@body_limit(TEMPLATE_BODY)
@api.validate(
    json=s.CampaignPatch,
    resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def patch_campaign(campaign_id: str, json: s.CampaignPatch) -> Answer:
    """Edit a draft, or a scheduled campaign until it starts (409 once it has)."""
    campaign = service.get(campaign_id, current_user)
    return _out(service.update(campaign, current_user, json.draft()))


@bp.post("/campaigns/<campaign_id>/duplicate")
@api.validate(resp=responses(HTTP_201=s.CampaignOut, HTTP_404=None), tags=TAGS)
def duplicate_campaign(campaign_id: str) -> Answer:
    """A new draft with the same list and message."""
    return _out(service.duplicate(service.get(campaign_id, current_user), current_user)), 201


@bp.post("/campaigns/<campaign_id>/schedule")
@api.validate(
    json=s.ScheduleIn,
    resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def schedule_campaign(campaign_id: str, json: s.ScheduleIn) -> Answer:
    """Schedule a draft (or move a scheduled campaign); a past time is a 422."""
    campaign = service.get(campaign_id, current_user)
    return _out(service.schedule(campaign, current_user, json.scheduled_at, json.send_local_time))


@bp.post("/campaigns/<campaign_id>/unschedule")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None, HTTP_409=None), tags=TAGS)
def unschedule_campaign(campaign_id: str) -> Answer:
    """A scheduled campaign back to a draft, before it starts."""
    return _out(service.unschedule(service.get(campaign_id, current_user)))


@bp.post("/campaigns/<campaign_id>/send")
@api.validate(resp=responses(HTTP_202=s.CampaignOut, HTTP_404=None, HTTP_409=None), tags=TAGS)
def send_campaign(campaign_id: str) -> Answer:
    """Send a draft or scheduled campaign now (202: it goes out in the background)."""
    return _out(service.send_now(service.get(campaign_id, current_user), current_user)), 202


@bp.post("/campaigns/<campaign_id>/test")
@api.validate(resp=responses(HTTP_200=s.TestOut, HTTP_404=None), tags=TAGS)
def test_campaign(campaign_id: str) -> Answer:
    """Send the message, rendered for a sample recipient, to your own address."""
    return {"to": service.send_test(service.get(campaign_id, current_user), current_user)}


@bp.get("/campaigns/<campaign_id>/review")
@api.validate(query=s.ReviewQuery, resp=responses(HTTP_200=s.ReviewOut, HTTP_404=None), tags=TAGS)
def review_campaign(campaign_id: str, query: s.ReviewQuery) -> Answer:
    """What a send would do: audience after consent and suppression (and who is left
    out, why), the message for one recipient, provider, rate and estimated duration."""
    campaign = service.get(campaign_id, current_user)
    customer = None
    if query.customer_id:
        customer = get_visible_customer(query.customer_id, current_user)
        if customer is None:
            raise Invalid("unknown customer", {"customerId": "unknown customer"})
    data = review.review(campaign, current_user, customer)
    chosen = data.pop("customer")
    data.pop("samples")
    data["customerId"] = chosen.public_id if chosen is not None else None
    return data


@bp.get("/campaigns/<campaign_id>/recipients")
@api.validate(
    query=s.RecipientQuery, resp=responses(HTTP_200=s.RecipientPage, HTTP_404=None), tags=TAGS
)
def campaign_recipients(campaign_id: str, query: s.RecipientQuery) -> Answer:
    """Each recipient's status (with why it was suppressed or the provider's error) and
    engagement; filter by ``status`` and ``engagement`` (opened, clicked, bounced...)."""
    campaign = service.get(campaign_id, current_user)
    return reports.recipients_page(
        campaign, query.status, query.engagement, query.page, query.per_page
    )


@bp.get("/campaigns/<campaign_id>/links")
@api.validate(resp=responses(HTTP_200=s.LinkList, HTTP_404=None), tags=TAGS)
def campaign_links(campaign_id: str) -> Answer:
    """Clicks per link: URL, clicks and unique clickers, most clicked first."""
    return {"items": reports.links(service.get(campaign_id, current_user))}


def _state_route(action: str) -> None:
    @api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None, HTTP_409=None), tags=TAGS)
    def change(campaign_id: str) -> Answer:
        return _out(service.change_state(service.get(campaign_id, current_user), action))

    change.__name__ = f"{action}_campaign"
    change.__doc__ = f"{action.capitalize()} a campaign (409 where it does not apply)."
    bp.post(f"/campaigns/<campaign_id>/{action}")(change)


for _action in ("pause", "resume", "cancel"):
    _state_route(_action)


@bp.get("/sms/campaigns/<campaign_id>")
@api.validate(resp=responses(HTTP_200=s.CampaignOut, HTTP_404=None), tags=["sms"])
def sms_campaign(campaign_id: str) -> Answer:
    """An SMS campaign's progress (kept at its first address)."""
    return reports.campaign_json(service.get(campaign_id, current_user, channel="sms"))
