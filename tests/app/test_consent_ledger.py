"""Staff record consent with its evidence; the ledger never lets it override the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.crm.models import ConsentChange
from app.extensions import db
from app.messaging import consent
from tests.conftest import csrf_from

API = "/api/sales/customers"


def _api(client, headers, method, path, **kw):
    return client.open(API + path, method=method, headers=headers, **kw)


def test_staff_record_sms_consent_with_evidence_through_the_api(
    client, manager, make_customer, token_headers
):
    customer = make_customer(phone="+12125550190")
    headers = token_headers(manager)
    r = _api(
        client,
        headers,
        "POST",
        f"/{customer.public_id}/consent",
        json={
            "channel": "sms",
            "status": "opted_in",
            "method": "written",
            "wording": "I agree to receive texts about specials from Decant Wines. Reply STOP.",
            "evidence": "trade show form #118",
            "obtainedAt": "2026-11-30T15:00:00Z",
        },
    )
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["channels"]["sms"]["status"] == "opted_in"
    assert doc["channels"]["sms"]["contactable"] is True
    entry = doc["history"][0]
    assert entry["recordedBy"] == manager.name and entry["method"] == "written"
    assert entry["wording"].startswith("I agree") and entry["evidence"] == "trade show form #118"
    assert entry["obtainedAt"].startswith("2026-11-30T15:00")
    got = _api(client, headers, "GET", f"/{customer.public_id}/consent").get_json()
    assert got["history"][0]["method"] == "written"
    assert _api(client, headers, "GET", f"/{customer.public_id}").get_json()["preferences"][
        "sms"
    ] == ("opted_in")


def test_sms_consent_needs_method_and_wording(client, manager, make_customer, token_headers):
    customer = make_customer(phone="+12125550191")
    headers = token_headers(manager)
    path = f"/{customer.public_id}/consent"
    no_method = _api(client, headers, "POST", path, json={"channel": "sms", "status": "opted_in"})
    assert no_method.status_code == 422 and "method" in no_method.get_json()["error"]["fields"]
    no_words = _api(
        client,
        headers,
        "POST",
        path,
        json={"channel": "sms", "status": "opted_in", "method": "verbal"},
    )
    assert no_words.status_code == 422 and "wording" in no_words.get_json()["error"]["fields"]
    future = _api(
        client,
        headers,
        "POST",
        path,
        json={
            "channel": "sms",
            "status": "opted_in",
            "method": "verbal",
            "wording": "ok",
            "obtainedAt": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
    )
    assert future.status_code == 422 and "obtainedAt" in future.get_json()["error"]["fields"]
    bogus = _api(client, headers, "POST", path, json={"channel": "fax", "status": "opted_in"})
    assert bogus.status_code == 422 and "channel" in bogus.get_json()["error"]["fields"]
    assert db.session.scalar(select(ConsentChange.id)) is None


def test_staff_cannot_lift_a_stop(client, manager, make_customer, token_headers):
    customer = make_customer(phone="+12125550192")
    consent.opt_out("sms", customer.phone, reason="STOP", source="sms:STOP")
    r = _api(
        client,
        token_headers(manager),
        "POST",
        f"/{customer.public_id}/consent",
        json={"channel": "sms", "status": "opted_in", "method": "verbal", "wording": "yes"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "opted_out"
    assert "START" in r.get_json()["error"]["message"]
    assert consent.is_suppressed("sms", customer.phone)
    assert consent.status_of("sms", customer.phone) == "opted_out"


def test_a_consent_obtained_before_a_later_revocation_never_applies(app, make_customer):
    customer = make_customer(phone="+12125550193")
    consent.record("sms", customer.phone, "opted_out", source="sms:STOP")
    db.session.commit()
    stale = consent.record(
        "sms",
        customer.phone,
        "opted_in",
        source="staff",
        method="written",
        obtained_at=datetime.now(UTC) - timedelta(days=30),
    )
    db.session.commit()
    assert stale.effective is False
    assert consent.status_of("sms", customer.phone) == "opted_out"


def test_staff_opt_out_applies_at_once(client, manager, make_customer, token_headers):
    customer = make_customer(email="gone@example.com")
    r = _api(
        client,
        token_headers(manager),
        "POST",
        f"/{customer.public_id}/consent",
        json={"channel": "email", "status": "opted_out", "method": "verbal", "evidence": "call"},
    )
    assert r.status_code == 201
    assert consent.is_suppressed("email", "gone@example.com")


def test_consent_belongs_to_the_address_not_the_record(app, make_customer):
    first = make_customer(phone="+12125550194")
    consent.opt_out("sms", first.phone, reason="STOP", source="sms:STOP")
    again = make_customer(phone="+12125550194", name="Same number, new record")
    assert consent.refusal("sms", again, again.phone) is not None


def test_contact_window_and_zone_through_the_api(client, manager, make_customer, token_headers):
    customer = make_customer()
    headers = token_headers(manager)
    path = f"/{customer.public_id}/contact-preferences"
    ok = _api(
        client,
        headers,
        "PUT",
        path,
        json={"contactWindow": {"start": "09:00", "end": "17:30"}, "timezone": "America/Chicago"},
    )
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["contactWindow"] == {"start": "09:00", "end": "17:30"}
    doc = _api(client, headers, "GET", f"/{customer.public_id}").get_json()
    assert doc["timezone"] == "America/Chicago" and doc["contactWindow"]["end"] == "17:30"
    bad_zone = _api(client, headers, "PUT", path, json={"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "timezone" in bad_zone.get_json()["error"]["fields"]
    bad_time = _api(
        client, headers, "PUT", path, json={"contactWindow": {"start": "9am", "end": "17:00"}}
    )
    assert bad_time.status_code == 422
    assert "contactWindow.start" in bad_time.get_json()["error"]["fields"]
    cleared = _api(client, headers, "PUT", path, json={"contactWindow": None, "timezone": None})
    assert cleared.get_json()["contactWindow"] is None


def test_consent_and_window_from_the_customer_page(client, manager, make_customer, login):
    customer = make_customer(phone="+12125550195")
    login(manager)
    page = client.get(f"/sales/customers/{customer.public_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="consent-card"' in html
    csrf = csrf_from(html)
    r = client.post(
        f"/sales/customers/{customer.public_id}/consent",
        data={
            "csrf_token": csrf,
            "channel": "sms",
            "status": "opted_in",
            "method": "paper_form",
            "wording": "Texts about specials; reply STOP to end.",
        },
        follow_redirects=True,
    )
    assert "Consent not recorded" in r.get_data(as_text=True)  # paper_form is not a method
    r = client.post(
        f"/sales/customers/{customer.public_id}/consent",
        data={
            "csrf_token": csrf,
            "channel": "sms",
            "status": "opted_in",
            "method": "written",
            "wording": "Texts about specials; reply STOP to end.",
            "obtained_at": "2026-12-01T10:00",
        },
        follow_redirects=True,
    )
    text = r.get_data(as_text=True)
    assert "SMS consent recorded" in text and 'data-testid="consent-history"' in text
    assert consent.status_of("sms", customer.phone) == "opted_in"
    entry = db.session.scalar(select(ConsentChange))
    assert entry.recorded_by_id == manager.id and entry.obtained_at.day == 1
    r = client.post(
        f"/sales/customers/{customer.public_id}/contact-preferences",
        data={"csrf_token": csrf, "start": "10:00", "end": "16:00", "timezone": "Nowhere/City"},
        follow_redirects=True,
    )
    assert "unknown time zone" in r.get_data(as_text=True)
    r = client.post(
        f"/sales/customers/{customer.public_id}/contact-preferences",
        data={"csrf_token": csrf, "start": "10:00", "end": "16:00", "timezone": "Europe/Paris"},
        follow_redirects=True,
    )
    assert "Contact preferences saved" in r.get_data(as_text=True)
    db.session.refresh(customer)
    assert customer.preference.timezone == "Europe/Paris"
