"""Outbound webhooks: endpoints through the API and the page, signed deliveries verified
by a local receiver with the standardwebhooks library, retries, resend, disabling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select, update

from app import jobs
from app.extensions import db
from app.messaging import consent
from app.outbound.models import OutboundAttempt, OutboundDelivery, OutboundEndpoint
from tests.conftest import csrf_from, stop_worker
from tests.fakes.crm_receiver import CrmReceiver

API = "/api/webhook-endpoints"


@pytest.fixture
def receiver() -> Iterator[CrmReceiver]:
    with CrmReceiver() as r:
        yield r


@pytest.fixture
def register(client, admin, token_headers, receiver):
    """Register ``receiver`` for some events through the API; the answer's JSON."""

    def do(events: list[str], url: str | None = None) -> dict:
        r = client.post(
            API, json={"url": url or receiver.url, "events": events}, headers=token_headers(admin)
        )
        assert r.status_code == 201, r.get_json()
        receiver.secret = r.get_json()["secret"]
        return r.get_json()

    return do


def advance(seconds: float) -> list[str]:
    """Let ``seconds`` pass for the scheduled jobs, then run those due (the ticker's work)."""
    for job in jobs.ScheduledJob.query.filter_by(status="scheduled"):
        job.run_at = job.run_at - timedelta(seconds=seconds)
    db.session.commit()
    return jobs._run_due_scheduled(current_app._get_current_object())  # noqa: SLF001 - the ticker's inline half


# --- the API ---------------------------------------------------------------------------


def test_api_registers_an_endpoint_with_a_standard_webhooks_secret(client, admin, token_headers):
    headers = token_headers(admin)
    r = client.post(
        API,
        json={"url": "https://crm.example/hooks", "events": ["consent.changed"]},
        headers=headers,
    )
    assert r.status_code == 201
    body = r.get_json()
    assert body["id"].startswith("whe_") and body["secret"].startswith("whsec_")
    assert body["active"] is True and body["events"] == ["consent.changed"]
    listed = client.get(API, headers=headers).get_json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    shown = client.get(f"{API}/{body['id']}/secret", headers=headers).get_json()
    assert shown == {"secret": body["secret"]}
    stored = db.session.scalar(select(OutboundEndpoint.secret))
    assert body["secret"] not in stored  # encrypted at rest
    rotated = client.post(f"{API}/{body['id']}/secret", headers=headers).get_json()["secret"]
    assert rotated != body["secret"] and rotated.startswith("whsec_")
    r = client.patch(
        f"{API}/{body['id']}", json={"events": ["message.sent", "import.finished"]}, headers=headers
    )
    assert r.status_code == 200 and r.get_json()["events"] == ["message.sent", "import.finished"]
    assert client.delete(f"{API}/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"{API}/{body['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "url",
    ["ftp://crm.example/hooks", "javascript:alert(1)", "crm.example/hooks", "https://", ""],
)
def test_only_http_urls_are_accepted(client, admin, token_headers, url):
    r = client.post(
        API, json={"url": url, "events": ["consent.changed"]}, headers=token_headers(admin)
    )
    assert r.status_code == 422
    assert "url" in r.get_json()["error"]["fields"]
    assert db.session.scalar(select(OutboundEndpoint.id)) is None


def test_unknown_events_are_refused(client, admin, token_headers):
    headers = token_headers(admin)
    r = client.post(API, json={"url": "https://x.example", "events": ["nope"]}, headers=headers)
    assert r.status_code == 422 and "events[0]" in r.get_json()["error"]["fields"]
    r = client.post(API, json={"url": "https://x.example", "events": []}, headers=headers)
    assert r.status_code == 422 and "events" in r.get_json()["error"]["fields"]


def test_only_admins_manage_endpoints(client, manager, token_headers, login):
    r = client.get(API, headers=token_headers(manager))
    assert r.status_code == 403
    r = client.post(
        API,
        json={"url": "https://x.example", "events": ["consent.changed"]},
        headers=token_headers(manager),
    )
    assert r.status_code == 403 and db.session.scalar(select(OutboundEndpoint.id)) is None
    login(manager)
    assert client.get("/settings/webhooks").status_code == 403


def test_the_api_is_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    assert "/api/webhook-endpoints" in doc["paths"]
    assert "/api/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend" in doc["paths"]


# --- deliveries --------------------------------------------------------------------------


def test_an_event_arrives_signed_and_verifies_with_standardwebhooks(
    register, receiver, make_customer
):
    endpoint = register(["consent.changed"])
    customer = make_customer(email="ann@shop.example")
    consent.opt_out(
        "email", "ann@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    [got] = receiver.received
    assert got.verified, "the receiver could not verify the signature"
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.payload["type"] == "consent.changed"
    assert got.payload["timestamp"].endswith("Z")
    assert got.payload["data"] == {
        "channel": "email",
        "address": "ann@shop.example",
        "customerId": customer.public_id,
        "status": "opted_out",
        "source": "manual",
    }
    delivery = db.session.scalar(select(OutboundDelivery))
    assert delivery.status == "succeeded" and delivery.public_id == got.headers["webhook-id"]
    attempt = db.session.scalar(select(OutboundAttempt))
    assert attempt.status_code == 200 and attempt.response_ms is not None and attempt.error is None
    # A wrong secret does not verify: the check above can fail.
    receiver.secret = "whsec_" + "A" * 43
    consent.opt_in("email", "ann@shop.example", source="form", customer_id=customer.id)
    assert receiver.received[-1].verified is False
    assert endpoint["id"]


def test_events_go_only_to_endpoints_subscribed_and_active(
    client, admin, token_headers, register, receiver, make_customer
):
    register(["import.finished"])
    customer = make_customer(email="bob@shop.example")
    consent.opt_out(
        "email", "bob@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    assert receiver.received == [] and db.session.scalar(select(OutboundDelivery.id)) is None


def test_a_failing_endpoint_gets_the_event_after_retries(register, receiver, make_customer):
    register(["consent.changed"])
    receiver.answers.extend([500, 503])
    customer = make_customer(email="cy@shop.example")
    consent.opt_out(
        "email", "cy@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    delivery = db.session.scalar(select(OutboundDelivery))
    assert delivery.status == "pending" and delivery.attempts == 1
    assert advance(2) == []  # the first retry waits 5 seconds
    assert len(receiver.received) == 1
    advance(5)
    assert len(receiver.received) == 2
    db.session.refresh(delivery)
    assert delivery.status == "pending" and delivery.attempts == 2
    endpoint = db.session.scalar(select(OutboundEndpoint))
    assert endpoint.failing_since is not None
    advance(30)
    assert [r.verified for r in receiver.received] == [True, True, True]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one event
    db.session.refresh(delivery)
    db.session.refresh(endpoint)
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert endpoint.failing_since is None
    codes = [a.status_code for a in db.session.scalars(select(OutboundAttempt).order_by("id"))]
    assert codes == [500, 503, 200]
    advance(3600)
    assert len(receiver.received) == 3  # nothing more once it succeeded


def test_retries_stop_after_the_retry_window(app, register, receiver, make_customer):
    register(["consent.changed"])
    receiver.answers.extend([500] * 50)
    customer = make_customer(email="di@shop.example")
    consent.opt_out(
        "email", "di@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    delivery = db.session.scalar(select(OutboundDelivery))
    # The event is two days old now: the next failure gives up.
    delivery.created_at = datetime.now(UTC) - timedelta(days=2)
    db.session.commit()
    advance(10)
    db.session.refresh(delivery)
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert len(receiver.received) == 2
    assert jobs.ScheduledJob.query.filter_by(status="scheduled").count() == 0


def test_an_endpoint_failing_for_a_day_is_switched_off_and_the_admin_told(
    client, login, admin, register, receiver, make_customer
):
    endpoint_json = register(["consent.changed"])
    receiver.answers.extend([500] * 10)
    db.session.execute(
        update(OutboundEndpoint).values(failing_since=datetime.now(UTC) - timedelta(hours=25))
    )
    db.session.commit()
    customer = make_customer(email="ed@shop.example")
    consent.opt_out(
        "email", "ed@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    endpoint = db.session.scalar(select(OutboundEndpoint))
    assert endpoint.active is False and endpoint.disabled_at is not None
    assert "HTTP 500" in endpoint.disabled_reason
    delivery = db.session.scalar(select(OutboundDelivery))
    assert delivery.status == "failed"
    login(admin)
    page = client.get("/settings/webhooks").get_data(as_text=True)
    assert 'data-testid="endpoint-disabled-banner"' in page and receiver.url in page
    # No more deliveries while it is off; switching it on clears the record.
    consent.opt_in("email", "ed@shop.example", source="form", customer_id=customer.id)
    assert db.session.scalar(select(db.func.count(OutboundDelivery.id))) == 1
    r = client.patch(
        f"{API}/{endpoint_json['id']}",
        json={"active": True},
        headers={"X-CSRFToken": csrf_from(page)},
    )
    assert r.status_code == 200 and r.get_json()["disabledAt"] is None
    assert "endpoint-disabled-banner" not in client.get("/settings/webhooks").get_data(as_text=True)


def test_redirects_to_another_host_are_not_followed(register, receiver, make_customer):
    with CrmReceiver() as elsewhere:
        elsewhere_url = f"http://localhost:{elsewhere.port}/stolen"
        register(["consent.changed"])
        receiver.answers.append((307, {"Location": elsewhere_url}))
        customer = make_customer(email="fi@shop.example")
        consent.opt_out(
            "email", "fi@shop.example", reason="manual", source="manual", customer_id=customer.id
        )
        assert elsewhere.received == []
    attempt = db.session.scalar(select(OutboundAttempt))
    assert "another host" in attempt.error
    assert db.session.scalar(select(OutboundDelivery.status)) == "pending"


def test_a_redirect_on_the_same_host_is_followed(register, receiver, make_customer):
    register(["consent.changed"])
    receiver.answers.append((308, {"Location": "/hooks/moved"}))
    customer = make_customer(email="gu@shop.example")
    consent.opt_out(
        "email", "gu@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    assert [r.path for r in receiver.received] == ["/hooks/decant", "/hooks/moved"]
    assert receiver.received[1].verified
    assert db.session.scalar(select(OutboundDelivery.status)) == "succeeded"


def test_a_rolled_back_event_sends_nothing(app, register, receiver, make_customer):
    from app.outbound import events

    register(["consent.changed"])
    events.record("consent.changed", {"address": "x"}, commit=False)
    db.session.flush()  # the row had its id...
    db.session.rollback()  # ...but the event's transaction did not commit
    db.session.commit()
    from app.outbound.dispatch import dispatch_ready

    assert dispatch_ready() == 0 and receiver.received == []


def test_the_sweep_sends_deliveries_whose_job_was_lost(app, register, receiver):
    from app.outbound import dispatch

    register(["consent.changed"])
    endpoint = db.session.scalar(select(OutboundEndpoint))
    lost = OutboundDelivery(
        endpoint_id=endpoint.id,
        event_type="consent.changed",
        payload={"type": "consent.changed", "timestamp": "t", "data": {}},
        status="pending",
        attempts=0,
        next_attempt_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    db.session.add(lost)
    db.session.commit()
    db.session.info.pop(dispatch.READY, None)  # as if the process died before dispatching
    assert dispatch.sweep() == 1
    assert len(receiver.received) == 1 and receiver.received[0].verified


# --- import.finished ---------------------------------------------------------------------


def test_import_finished_after_a_customer_import(client, admin, token_headers, register, receiver):
    register(["import.finished"])
    rows = [{"externalId": "C-77", "name": "Bistro Lapin", "email": "lapin@bistro.example"}]
    headers = token_headers(admin)
    r = client.post("/api/sales/import/customers?dryRun=true", json=rows, headers=headers)
    assert r.status_code == 200 and receiver.received == []  # a dry run is no import
    r = client.post("/api/sales/import/customers", json=rows, headers=headers)
    assert r.status_code == 200 and r.get_json()["created"] == 1
    [got] = receiver.events("import.finished")
    assert got.verified
    assert got.payload["data"] == {
        "entity": "customers",
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "userId": admin.public_id,
    }


# --- the page ----------------------------------------------------------------------------


def test_the_page_creates_an_endpoint_shows_attempts_and_resends(
    client, login, admin, receiver, make_customer
):
    login(admin)
    page = client.get("/settings/webhooks")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    form = {"url": receiver.url, "events": ["consent.changed"], "active": "y"}
    assert client.post("/settings/webhooks", data=form).status_code == 400  # no CSRF token
    r = client.post("/settings/webhooks", data={**form, "csrf_token": token})
    assert r.status_code == 302
    endpoint = db.session.scalar(select(OutboundEndpoint))
    detail = client.get(r.headers["Location"]).get_data(as_text=True)
    receiver.secret = re.search(r"whsec_[A-Za-z0-9+/=]+", detail).group(0)
    customer = make_customer(email="hal@shop.example")
    consent.opt_out(
        "email", "hal@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    assert receiver.received[0].verified
    detail = client.get(f"/settings/webhooks/{endpoint.public_id}").get_data(as_text=True)
    assert "consent.changed" in detail and "HTTP 200" in detail
    delivery = db.session.scalar(select(OutboundDelivery))
    resend = f"/settings/webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/resend"
    assert client.post(resend).status_code == 400  # no CSRF token
    assert len(receiver.received) == 1
    r = client.post(resend, data={"csrf_token": token})
    assert r.status_code == 302
    assert len(receiver.received) == 2 and receiver.received[1].verified
    assert receiver.received[1].headers["webhook-id"] == delivery.public_id
    detail = client.get(f"/settings/webhooks/{endpoint.public_id}").get_data(as_text=True)
    assert detail.count('data-testid="attempt"') == 2 and "resent" in detail
    # The secret on demand, then deletion after a confirmation page.
    shown = client.post(
        f"/settings/webhooks/{endpoint.public_id}/secret", data={"csrf_token": token}
    ).get_data(as_text=True)
    assert receiver.secret in shown
    confirm = client.get(f"/settings/webhooks/{endpoint.public_id}/delete")
    assert confirm.status_code == 200 and "Delete endpoint" in confirm.get_data(as_text=True)
    assert db.session.scalar(select(OutboundEndpoint.id)) is not None
    r = client.post(f"/settings/webhooks/{endpoint.public_id}/delete", data={"csrf_token": token})
    assert r.status_code == 302 and db.session.scalar(select(OutboundEndpoint.id)) is None


def test_the_page_refuses_a_non_http_url_naming_the_field(client, login, admin):
    login(admin)
    token = csrf_from(client.get("/settings/webhooks").get_data(as_text=True))
    r = client.post(
        "/settings/webhooks",
        data={"url": "file:///etc/passwd", "events": ["consent.changed"], "csrf_token": token},
    )
    assert r.status_code == 422
    assert 'data-testid="error-url"' in r.get_data(as_text=True)
    assert db.session.scalar(select(OutboundEndpoint.id)) is None


def test_resend_through_the_api(client, admin, token_headers, register, receiver, make_customer):
    endpoint = register(["consent.changed"])
    receiver.answers.append(500)
    customer = make_customer(email="ivy@shop.example")
    consent.opt_out(
        "email", "ivy@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    headers = token_headers(admin)
    page = client.get(f"{API}/{endpoint['id']}/deliveries", headers=headers).get_json()
    [item] = page["items"]
    assert item["status"] == "pending" and item["attemptLog"][0]["statusCode"] == 500
    r = client.post(f"{API}/{endpoint['id']}/deliveries/{item['id']}/resend", headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "succeeded"
    assert [a["statusCode"] for a in r.get_json()["attemptLog"]] == [200, 500]
    advance(10)  # the retry scheduled by the first failure finds nothing left to do
    assert len(receiver.received) == 2


# --- on RQ --------------------------------------------------------------------------------


@pytest.mark.redis
def test_on_rq_a_worker_delivers_and_retries_at_the_scheduled_time(
    app, redis_url, database_url, register, receiver, make_customer
):
    """The real path in production: the event enqueues a job on Redis, a ``flask worker``
    process sends it, the failure is scheduled with ``enqueue_at`` and RQ's scheduler runs
    the retry 5 s later."""
    register(["consent.changed"])
    receiver.answers.append(503)
    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("decant_redis", None)
    customer = make_customer(email="jo@shop.example")
    consent.opt_out(
        "email", "jo@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    assert receiver.received == []  # queued, not sent in this process
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DECANT_ENV": "testing",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(root),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "worker",
            "--queues",
            "default",
            "--no-ticker",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(receiver.received) < 2:
            time.sleep(0.2)
    finally:
        output = stop_worker(worker)
    assert len(receiver.received) == 2, output[-2000:]
    first, second = receiver.received
    assert first.verified and second.verified
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    gap = int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"])
    assert gap >= 4  # the first retry waits 5 s
    db.session.expire_all()
    delivery = db.session.scalar(select(OutboundDelivery))
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_resend_to_a_switched_off_endpoint_is_refused(
    client, admin, token_headers, register, receiver, make_customer
):
    endpoint = register(["consent.changed"])
    customer = make_customer(email="kim@shop.example")
    consent.opt_out(
        "email", "kim@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    headers = token_headers(admin)
    [item] = client.get(f"{API}/{endpoint['id']}/deliveries", headers=headers).get_json()["items"]
    r = client.patch(f"{API}/{endpoint['id']}", json={"active": False}, headers=headers)
    assert r.status_code == 200 and r.get_json()["active"] is False
    r = client.post(f"{API}/{endpoint['id']}/deliveries/{item['id']}/resend", headers=headers)
    assert r.status_code == 409 and "endpoint" in r.get_json()["error"]["fields"]
    assert len(receiver.received) == 1


# --- private addresses -----------------------------------------------------------------

PRIVATE_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.7/hook",
    "http://172.16.5.5/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_unless_the_setting_allows_them(
    app, client, admin, token_headers, url
):
    app.config["OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"] = False
    headers = token_headers(admin)
    r = client.post(API, json={"url": url, "events": ["consent.changed"]}, headers=headers)
    assert r.status_code == 422, r.get_json()
    assert "private" in r.get_json()["error"]["fields"]["url"]
    assert db.session.scalar(select(OutboundEndpoint.id)) is None
    # a public address is taken (a literal: no DNS needed), and cannot be moved inside
    public = client.post(
        API,
        json={"url": "https://93.184.216.34/hook", "events": ["consent.changed"]},
        headers=headers,
    )
    assert public.status_code == 201, public.get_json()
    moved = client.patch(f"{API}/{public.get_json()['id']}", json={"url": url}, headers=headers)
    assert moved.status_code == 422 and "url" in moved.get_json()["error"]["fields"]
    app.config["OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"] = True
    assert (
        client.post(
            API, json={"url": url, "events": ["consent.changed"]}, headers=headers
        ).status_code
        == 201
    )


def test_the_setting_is_off_in_production_and_read_from_the_environment(monkeypatch, app_config):
    from app import create_app

    def allowed(env, **environ):
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        config = {**app_config, "DECANT_ENV": env, "SECRET_KEY": "x" * 40}
        return create_app(config).config["OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"]

    assert allowed("testing") is True
    assert allowed("production") is False
    assert allowed("production", OUTBOUND_WEBHOOKS_ALLOW_PRIVATE="true") is True


def test_a_name_that_resolves_privately_at_delivery_is_refused_then(
    app, register, receiver, make_customer, monkeypatch
):
    """DNS rebinding: the host resolved to a public address when it was registered and
    to loopback when the delivery connects; the connection itself is refused."""
    from app.outbound import addresses

    app.config["OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"] = False
    monkeypatch.setattr(addresses, "resolve", lambda host, port: ["93.184.216.34"])
    register(["consent.changed"], url=f"http://localhost:{receiver.port}/hook")
    monkeypatch.undo()
    customer = make_customer(email="dns@shop.example")
    consent.opt_out(
        "email", "dns@shop.example", reason="manual", source="manual", customer_id=customer.id
    )
    assert receiver.received == []
    attempt = db.session.scalar(select(OutboundAttempt))
    assert "private address 127.0.0.1" in attempt.error, attempt.error
    assert db.session.scalar(select(OutboundDelivery.status)) == "pending"  # retried later


def test_the_page_refuses_a_private_url_naming_the_field(app, client, login, admin):
    app.config["OUTBOUND_WEBHOOKS_ALLOW_PRIVATE"] = False
    login(admin)
    token = csrf_from(client.get("/settings/webhooks").get_data(as_text=True))
    r = client.post(
        "/settings/webhooks",
        data={"url": "http://169.254.169.254/", "events": ["consent.changed"], "csrf_token": token},
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'data-testid="error-url"' in page and "private" in page
    assert 'value="http://169.254.169.254/"' in page  # what was typed is kept
    assert db.session.scalar(select(OutboundEndpoint.id)) is None
