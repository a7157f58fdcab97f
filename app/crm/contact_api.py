"""/api/sales/customers/<id>/consent and /contact-preferences."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from app.api.errors import not_found
from app.api.spec import ApiResponse, api, responses
from app.crm import contact
from app.crm import contact_schemas as s
from app.crm.models import Customer
from app.crm.scoping import get_visible_customer
from app.messaging import consent

bp = Blueprint("crm_contact_api", __name__, url_prefix="/api/sales/customers")
TAGS = ["customers"]


def _customer_or_404(customer_id: str) -> Customer:
    customer = get_visible_customer(customer_id, current_user)
    if customer is None:
        raise not_found("customer")
    return customer


@bp.get("/<customer_id>/consent")
@api.validate(resp=responses(HTTP_200=s.ContactOut, HTTP_404=None), tags=TAGS)
def get_consent(customer_id: str) -> ApiResponse:
    """Consent per channel for the customer's addresses, the contact window and the
    consent history (newest first)."""
    return contact.contact_json(_customer_or_404(customer_id))


@bp.post("/<customer_id>/consent")
@api.validate(
    json=s.ConsentIn,
    resp=responses(HTTP_201=s.ContactOut, HTTP_404=None, HTTP_409=None),
    tags=TAGS,
)
def record_consent(customer_id: str, json: s.ConsentIn) -> ApiResponse:
    """Record a consent or an opt-out for the customer's own address with its evidence
    (``method``; for SMS the ``wording`` shown). 409 ``opted_out`` when the address is
    suppressed (only the person can lift that) or revoked consent after ``obtainedAt``."""
    customer = _customer_or_404(customer_id)
    consent.record_by_staff(
        current_user,
        customer,
        channel=json.channel,
        status=json.status,
        method=json.method,
        wording=json.wording,
        evidence=json.evidence,
        obtained_at=json.obtained_at,
    )
    return contact.contact_json(customer), 201


@bp.put("/<customer_id>/contact-preferences")
@api.validate(
    json=s.ContactPreferencesIn, resp=responses(HTTP_200=s.ContactOut, HTTP_404=None), tags=TAGS
)
def put_contact_preferences(customer_id: str, json: s.ContactPreferencesIn) -> ApiResponse:
    """Preferred contact window (``{"start": "09:00", "end": "17:00"}``, or null for any
    time) and time zone (IANA name); campaign texts wait for the window."""
    customer = _customer_or_404(customer_id)
    window = json.contact_window
    contact.set_contact_preferences(
        customer,
        start=window.start if window else None,
        end=window.end if window else None,
        timezone=json.timezone,
    )
    return contact.contact_json(customer, history=False)
