"""Flows end to end on the inline runner: each trigger and step, exactly-once steps,
re-entry, exits, the frequency cap, loop and activation refusals, and who may use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import select, update

from app import jobs
from app.extensions import db
from app.flows import engine, triggers
from app.flows.models import FlowRun, FlowStepExecution
from app.messaging.models import Template
from app.models_base import utcnow
from app.repday.models import RepFollowUp
from blueprints.email import tracking
from blueprints.email.models import EmailMessage
from blueprints.sms.models import SmsMessage
from tests.app.test_crm_import import poster

API = "/api/sales/marketing/flows"


@pytest.fixture
def templates(app):
    email = Template(
        type="email", name="Thanks", subject="Hi {{ customer_name }}", html="<p>Cheers</p>"
    )
    sms = Template(type="sms", name="Nudge", body="Hi {{ customer_name }}, new wines are in")
    db.session.add_all([email, sms])
    db.session.commit()
    return {"email": email.public_id, "sms": sms.public_id}


@pytest.fixture
def api(client, token_headers, manager):
    headers = token_headers(manager)

    def call(method: str, path: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        answer = client.open(f"{API}{path}", method=method, json=body or None, headers=headers)
        assert answer.status_code == expect, answer.get_data(as_text=True)[:2000]
        return answer.get_json()

    return call


def make_flow(api, steps, trigger=None, activate=True, **settings):
    flow = api(
        "POST",
        "",
        201,
        name="Test flow",
        trigger=trigger or {"type": "manual"},
        steps=steps,
        **settings,
    )
    if activate:
        flow = api("POST", f"/{flow['id']}/activate")
    return flow


def runs(flow_id: str | None = None) -> list[FlowRun]:
    db.session.expire_all()
    return list(db.session.scalars(select(FlowRun).order_by(FlowRun.id)))


def executions(run: FlowRun) -> dict[str, str]:
    db.session.expire_all()
    return {
        e.step_key: e.status
        for e in db.session.scalars(
            select(FlowStepExecution).where(FlowStepExecution.run_id == run.id)
        )
    }


def flow_emails(customer) -> list[EmailMessage]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(EmailMessage).where(
                EmailMessage.customer_id == customer.id, EmailMessage.flow_run_id.is_not(None)
            )
        )
    )


def time_passes(hours: float) -> None:
    """Move every waiting run and scheduled job earlier by ``hours``, then run what is due
    (the inline runner's scheduled jobs, as the ticker does)."""
    shift = timedelta(hours=hours)
    for run in db.session.scalars(select(FlowRun).where(FlowRun.next_at.is_not(None))):
        run.next_at = run.next_at - shift
    for job in db.session.scalars(
        select(jobs.ScheduledJob).where(jobs.ScheduledJob.status == "scheduled")
    ):
        job.run_at = job.run_at - shift
    db.session.commit()
    jobs.tick(current_app._get_current_object())  # type: ignore[attr-defined]


# --- the manual trigger, sending, and exactly once -----------------------------------------


def test_a_customer_added_by_hand_gets_the_email_once(api, make_customer, templates):
    customer = make_customer()
    flow = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    added = api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    assert added["state"] in ("running", "done")
    [message] = flow_emails(customer)
    assert message.status == "sent" and message.subject == f"Hi {customer.name}"
    [run] = runs()
    assert run.state == "done" and executions(run) == {"s1": "sent"}
    detail = api("GET", f"/{flow['id']}")
    assert detail["steps"][0]["counts"] == {
        "passed": 1,
        "waiting": 0,
        "exited": 0,
        "capped": 0,
        "orders": 0,
        "revenue": 0.0,
    }
    listed = api("GET", f"/{flow['id']}/runs")
    assert [r["customerId"] for r in listed["items"]] == [customer.public_id]


def test_a_duplicated_step_job_does_not_send_twice(app, api, make_customer, templates):
    app.config["FLOW_CAP_EMAIL_HOURS"] = 0  # not the cap: the step's unique record stops it
    customer = make_customer()
    flow = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    [run] = runs()
    # a second job that read the run before the first committed: it finds the step taken
    db.session.execute(
        update(FlowRun).where(FlowRun.id == run.id).values(state="running", current_step="s1")
    )
    db.session.commit()
    engine.advance(run.id)
    engine.advance(run.id)
    assert len(flow_emails(customer)) == 1


def test_a_wait_is_a_scheduled_job_and_the_run_finishes_after_it(api, make_customer, templates):
    customer = make_customer()
    flow = make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 2},
            {"type": "task", "title": "Call about the thank-you", "dueInDays": 1},
        ],
    )
    rep = db.session.get(type(customer), customer.id)
    from app.auth.models import User

    rep.rep_id = db.session.scalar(select(User.id).limit(1))
    db.session.commit()
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    [run] = runs()
    assert run.state == "waiting" and run.current_step == "s2"
    waiting = db.session.scalars(
        select(jobs.ScheduledJob).where(jobs.ScheduledJob.status == "scheduled")
    ).all()
    assert [j.func for j in waiting] == [engine.ADVANCE]
    assert abs((waiting[0].run_at - run.next_at).total_seconds()) < 1
    engine.advance(run.id)  # early (a duplicate): nothing moves
    assert runs()[0].state == "waiting"
    assert api("GET", f"/{flow['id']}")["steps"][1]["counts"]["waiting"] == 1
    time_passes(2.1)
    [run] = runs()
    assert run.state == "done"
    assert executions(run) == {"s1": "sent", "s2": "passed", "s3": "done"}
    [task] = db.session.scalars(select(RepFollowUp)).all()
    assert task.title == "Call about the thank-you" and task.customer_id == customer.id


def test_a_wait_until_a_weekday_uses_the_customers_clock():
    step = {"type": "wait", "until": {"weekday": "tue", "time": "09:00"}}
    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
    when = engine.wait_until(step, start, "America/New_York")
    assert when == datetime(2026, 12, 8, 14, 0, tzinfo=UTC)  # Tuesday 09:00 EST


# --- re-entry, exits, cap ----------------------------------------------------------------


def test_re_entry_never_refuses_a_second_entry_and_after_n_days_allows_it(
    api, make_customer, templates
):
    customer = make_customer()
    never = make_flow(api, [{"type": "tag", "tag": "vip"}])
    api("POST", f"/{never['id']}/runs", 201, customerId=customer.public_id)
    refused = api("POST", f"/{never['id']}/runs", 409, customerId=customer.public_id)
    assert "customerId" in refused["error"]["fields"]
    again = make_flow(api, [{"type": "tag", "tag": "vip"}], reentry="after", reentryDays=7)
    api("POST", f"/{again['id']}/runs", 201, customerId=customer.public_id)
    api("POST", f"/{again['id']}/runs", 409, customerId=customer.public_id)
    last = runs()[-1]
    last.entered_at = utcnow() - timedelta(days=8)
    db.session.commit()
    api("POST", f"/{again['id']}/runs", 201, customerId=customer.public_id)
    assert [r.entry_no for r in runs()] == [1, 1, 2]
    db.session.refresh(customer)
    assert customer.custom_fields["tags"] == ["vip"]


def test_an_order_ends_the_runs_of_flows_that_exit_on_order(
    api, client, token_headers, admin, make_customer, templates
):
    customer = make_customer(external_id="C-1")
    flow = make_flow(
        api,
        [{"type": "wait", "days": 3}, {"type": "email", "templateId": templates["email"]}],
        exitOnOrder=True,
    )
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "B-1", "name": "Barolo", "unitPrice": 40}])
    post(
        "orders",
        [
            {
                "externalId": "O-1",
                "customer": "C-1",
                "orderDate": utcnow().date().isoformat(),
                "lines": [{"sku": "SKU-1", "quantity": 1, "unitPrice": 40}],
            }
        ],
    )
    [run] = runs()
    assert run.state == "exited" and run.exit_reason == "ordered"
    time_passes(80)
    assert flow_emails(customer) == []
    assert api("GET", f"/{flow['id']}")["steps"][0]["counts"]["exited"] == 1


def test_each_send_step_shows_the_orders_and_revenue_attributed_to_its_messages(
    api, client, login, token_headers, admin, manager, make_customer, templates
):
    """Only the step whose message was clicked gets the order; the other step, a campaign's
    touch and another flow get nothing; the page shows the figures too."""
    buyer, other = make_customer(external_id="C-1"), make_customer(external_id="C-2")
    flow = make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 1},
            {"type": "email", "templateId": templates["email"]},
        ],
    )
    untouched = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    for customer in (buyer, other):
        api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    api("POST", f"/{untouched['id']}/runs", 201, customerId=other.public_id)
    [clicked] = flow_emails(buyer)  # step s1's; s3's waits an hour
    tracking.record_engagement(clicked, "click")
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "B-1", "name": "Barolo", "unitPrice": 40}])
    orders = [
        {
            "externalId": f"O-{n}",
            "customer": customer,
            "orderDate": utcnow().date().isoformat(),
            "lines": [{"sku": "SKU-1", "quantity": quantity, "unitPrice": 40}],
        }
        for n, (customer, quantity) in enumerate((("C-1", 2), ("C-1", 1), ("C-2", 5)))
    ]
    post("orders", orders)
    steps = api("GET", f"/{flow['id']}")["steps"]
    assert {k: steps[0]["counts"][k] for k in ("orders", "revenue")} == {
        "orders": 2,
        "revenue": 120.0,
    }
    assert (steps[2]["counts"]["orders"], steps[2]["counts"]["revenue"]) == (0, 0.0)
    listed = next(f for f in api("GET", "")["items"] if f["id"] == untouched["id"])
    assert listed["steps"][0]["counts"]["revenue"] == 0.0
    login(manager)
    page = client.get(f"/sales/marketing/flows/{flow['id']}").get_data(as_text=True)
    assert "2 attributed orders, revenue 120.00" in page


def test_the_frequency_cap_skips_and_records(api, make_customer, templates):
    customer = make_customer()
    first = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    second = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    api("POST", f"/{first['id']}/runs", 201, customerId=customer.public_id)
    api("POST", f"/{second['id']}/runs", 201, customerId=customer.public_id)
    assert len(flow_emails(customer)) == 1
    assert executions(runs()[1]) == {"s1": "capped"}
    assert api("GET", f"/{second['id']}")["steps"][0]["counts"]["capped"] == 1


def test_a_campaign_email_counts_towards_the_cap(app, api, make_customer, templates):
    from app.messaging.models import Campaign

    customer = make_customer()
    campaign = Campaign(name="Specials", channel="email", status="sent")
    db.session.add(campaign)
    db.session.flush()
    db.session.add(
        EmailMessage(
            customer_id=customer.id,
            campaign_id=campaign.id,
            status="sent",
            to_address=customer.email,
            sent_at=utcnow() - timedelta(hours=15),
        )
    )
    db.session.commit()
    flow = make_flow(api, [{"type": "email", "templateId": templates["email"]}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    assert executions(runs()[0]) == {"s1": "capped"}
    app.config["FLOW_CAP_EMAIL_HOURS"] = 12
    other = make_customer()
    db.session.add(
        EmailMessage(
            customer_id=other.id,
            campaign_id=campaign.id,
            status="sent",
            to_address=other.email,
            sent_at=utcnow() - timedelta(hours=15),
        )
    )
    db.session.commit()
    api("POST", f"/{flow['id']}/runs", 201, customerId=other.public_id)
    assert executions(runs()[1]) == {"s1": "sent"}


# --- safety ------------------------------------------------------------------------------


def test_activation_is_refused_naming_the_step_missing_content(api):
    flow = make_flow(api, [{"type": "wait", "days": 1}, {"type": "email"}], activate=False)
    refused = api("POST", f"/{flow['id']}/activate", 422)
    assert "steps[1].templateId" in refused["error"]["fields"]
    assert api("GET", f"/{flow['id']}")["status"] == "draft"


def test_a_flow_that_would_retrigger_itself_is_refused(api):
    refused = api(
        "POST",
        "",
        422,
        name="Loop",
        trigger={"type": "list_joined", "listId": "lst_a"},
        steps=[{"type": "list_add", "listId": "lst_a"}],
    )
    assert "steps[0].listId" in refused["error"]["fields"]


def test_bad_steps_are_refused_naming_the_field(api):
    refused = api(
        "POST",
        "",
        422,
        name="Bad",
        trigger={"type": "manual"},
        steps=[{"type": "branch", "condition": {"kind": "clicked"}, "else": "s0"}],
    )
    assert "steps[0].else" in refused["error"]["fields"]
    refused = api("POST", "", 422, name="Bad", trigger={"type": "no_order"}, steps=[])
    assert "trigger.days" in refused["error"]["fields"]


def test_only_managers_and_admins_use_flows(client, token_headers, rep, admin):
    assert client.get(API).status_code == 401
    answer = client.get(API, headers=token_headers(rep))
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "forbidden"
    assert client.get(API, headers=token_headers(admin)).status_code == 200


def test_editing_makes_a_new_version_and_runs_finish_on_theirs(api, make_customer, templates):
    customer = make_customer()
    flow = make_flow(api, [{"type": "wait", "hours": 1}, {"type": "tag", "tag": "old"}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    edited = api(
        "PATCH",
        f"/{flow['id']}",
        steps=[{"type": "wait", "hours": 1}, {"type": "tag", "tag": "new"}],
    )
    assert edited["version"] == 2
    time_passes(1.5)
    db.session.refresh(customer)
    assert customer.custom_fields["tags"] == ["old"]


def test_a_paused_flow_holds_its_runs_until_activated(api, make_customer):
    customer = make_customer()
    flow = make_flow(api, [{"type": "wait", "hours": 1}, {"type": "tag", "tag": "x"}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    api("POST", f"/{flow['id']}/pause")
    time_passes(2)
    assert runs()[0].state == "waiting"
    api("POST", f"/{flow['id']}/activate")
    assert runs()[0].state == "done"


# --- triggers ----------------------------------------------------------------------------


def test_an_order_placed_enters_the_thank_you_flow(
    api, client, token_headers, admin, make_customer, templates
):
    customer = make_customer(external_id="C-1")
    make_flow(
        api, [{"type": "email", "templateId": templates["email"]}], trigger={"type": "order_placed"}
    )
    post = poster(client, token_headers(admin))
    post("skus", [{"externalId": "SKU-1", "code": "B-1", "name": "Barolo", "unitPrice": 40}])
    order = {
        "externalId": "O-1",
        "customer": "C-1",
        "orderDate": utcnow().date().isoformat(),
        "lines": [{"sku": "SKU-1", "quantity": 1, "unitPrice": 40}],
    }
    post("orders", [order])
    assert len(flow_emails(customer)) == 1
    post("orders", [{**order, "lines": [{"sku": "SKU-1", "quantity": 2, "unitPrice": 40}]}])
    assert len(runs()) == 1  # an updated order is not a new one


def test_no_order_in_n_days_enters_once_per_lapse(api, make_customer):
    lapsed = make_customer(last_order_date=utcnow().date() - timedelta(days=40))
    make_customer(last_order_date=utcnow().date() - timedelta(days=5))
    make_customer()  # never ordered
    make_flow(
        api,
        [{"type": "tag", "tag": "winback"}],
        trigger={"type": "no_order", "days": 30},
        reentry="after",
        reentryDays=1,
    )
    assert triggers.no_order_daily() == 1
    assert [r.customer_id for r in runs()] == [lapsed.id]
    runs()[0].entered_at = utcnow() - timedelta(days=3)
    db.session.commit()
    assert triggers.no_order_daily() == 0  # still the same lapse


def test_a_persons_click_enters_the_flow_and_a_machine_click_does_not(
    api, make_customer, templates
):
    from app.messaging.machine_signals import Verdict

    person, machine = make_customer(), make_customer()
    make_flow(api, [{"type": "tag", "tag": "clicked"}], trigger={"type": "clicked"})
    for customer, verdict in ((person, None), (machine, Verdict(False, "burst"))):
        message = EmailMessage(
            customer_id=customer.id,
            to_address=customer.email,
            status="sent",
            subject="Specials",
            sent_at=utcnow() - timedelta(hours=1),
        )
        db.session.add(message)
        db.session.commit()
        kwargs = {"verdict": verdict} if verdict else {}
        tracking.record_engagement(message, "click", **kwargs)
    assert [r.customer_id for r in runs()] == [person.id]


def test_an_sms_reply_with_the_keyword_enters_and_any_reply_exits(api, make_customer):
    from blueprints.sms import services as sms

    customer = make_customer()
    make_flow(
        api,
        [{"type": "tag", "tag": "tasting"}],
        trigger={"type": "sms_reply", "keyword": "TASTING"},
    )
    waiting = make_flow(
        api, [{"type": "wait", "days": 2}, {"type": "tag", "tag": "late"}], exitOnReply=True
    )
    api("POST", f"/{waiting['id']}/runs", 201, customerId=customer.public_id)
    sms.receive(
        {"From": customer.phone, "To": "+15550000000", "Body": "hello", "MessageSid": "SM1"}
    )
    assert [(r.state, r.exit_reason) for r in runs()] == [("exited", "replied")]
    sms.receive(
        {
            "From": customer.phone,
            "To": "+15550000000",
            "Body": "tasting please",
            "MessageSid": "SM2",
        }
    )
    assert runs()[-1].state == "done"
    db.session.refresh(customer)
    assert customer.custom_fields["tags"] == ["tasting"]


def test_joining_a_list_enters_the_flow_and_list_steps_add_and_remove(
    api, client, token_headers, manager, make_customer
):
    headers = token_headers(manager)
    lists = [
        client.post("/api/sales/marketing/lists", json={"name": n}, headers=headers).get_json()
        for n in ("Tasting", "VIP", "Prospects")
    ]
    customer = make_customer()
    make_flow(
        api,
        [
            {"type": "list_add", "listId": lists[1]["id"]},
            {"type": "list_remove", "listId": lists[2]["id"]},
        ],
        trigger={"type": "list_joined", "listId": lists[0]["id"]},
    )
    members = {"customerIds": [customer.public_id]}
    client.post(
        f"/api/sales/marketing/lists/{lists[2]['id']}/members", json=members, headers=headers
    )
    client.post(
        f"/api/sales/marketing/lists/{lists[0]['id']}/members", json=members, headers=headers
    )
    [run] = runs()
    assert run.state == "done" and executions(run) == {"s1": "done", "s2": "done"}

    def member_count(list_id: str) -> int:
        return client.get(f"/api/sales/marketing/lists/{list_id}", headers=headers).get_json()[
            "memberCount"
        ]

    assert member_count(lists[1]["id"]) == 1 and member_count(lists[2]["id"]) == 0


# --- steps -------------------------------------------------------------------------------


def test_branch_on_a_click_since_entry_and_the_sms_step_obeys_consent(
    api, make_customer, templates
):
    from app.messaging import consent

    clicked, quiet = make_customer(), make_customer()
    consent.opt_in("sms", clicked.phone, source="test", customer_id=clicked.id)
    db.session.commit()
    flow = make_flow(
        api,
        [
            {"type": "email", "templateId": templates["email"]},
            {"type": "wait", "hours": 1},
            {"type": "branch", "condition": {"kind": "clicked"}, "else": "exit"},
            {"type": "sms", "templateId": templates["sms"]},
        ],
    )
    for customer in (clicked, quiet):
        api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    [message] = flow_emails(clicked)
    message.sent_at = utcnow() - timedelta(minutes=10)  # a person reads before clicking
    db.session.commit()
    tracking.record_engagement(message, "click", at=utcnow())
    time_passes(1.5)
    by_customer = {r.customer_id: r for r in runs()}
    assert by_customer[clicked.id].state == "done"
    assert (by_customer[quiet.id].state, by_customer[quiet.id].exit_reason) == ("exited", "branch")
    texts = db.session.scalars(select(SmsMessage).where(SmsMessage.flow_run_id.is_not(None))).all()
    assert [(t.customer_id, t.status) for t in texts] == [(clicked.id, "sent")]
    # without an SMS opt-in the flow's text is refused at send time, like a campaign's
    nobody = make_customer()
    texting = make_flow(api, [{"type": "sms", "templateId": templates["sms"]}])
    api("POST", f"/{texting['id']}/runs", 201, customerId=nobody.public_id)
    db.session.expire_all()
    [refused] = db.session.scalars(select(SmsMessage).where(SmsMessage.customer_id == nobody.id))
    assert refused.status == "suppressed"


def test_field_and_exit_steps(api, make_customer):
    customer = make_customer()
    flow = make_flow(
        api,
        [
            {"type": "field", "field": "stage", "value": "won back"},
            {"type": "exit"},
            {"type": "tag", "tag": "never"},
        ],
    )
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    db.session.refresh(customer)
    assert customer.custom_fields == {"stage": "won back"}
    assert runs()[0].state == "exited"


def test_a_flow_text_is_marketing_a_recent_text_in_is_no_opt_in(api, make_customer, templates):
    """A one-to-one reply may go to a number that just texted us; a flow's text, like a
    campaign's, needs a recorded opt-in."""
    from blueprints.sms import services as sms

    customer = make_customer()
    sms.receive({"From": customer.phone, "To": "+15550000000", "Body": "hi", "MessageSid": "S1"})
    flow = make_flow(api, [{"type": "sms", "templateId": templates["sms"]}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    db.session.expire_all()
    [text] = db.session.scalars(select(SmsMessage).where(SmsMessage.flow_run_id.is_not(None)))
    assert text.status == "suppressed"


def test_a_flow_text_waits_for_the_customers_contact_window(api, make_customer, templates):
    from app.crm.models import CommunicationPreference
    from app.messaging import consent

    customer = make_customer()
    consent.opt_in("sms", customer.phone, source="test", customer_id=customer.id)
    now = utcnow()
    start = (now + timedelta(hours=3)).time().replace(microsecond=0)
    end = (now + timedelta(hours=4)).time().replace(microsecond=0)
    db.session.add(
        CommunicationPreference(
            customer_id=customer.id,
            preferred_contact_start=start,
            preferred_contact_end=end,
            timezone="UTC",
        )
    )
    db.session.commit()
    flow = make_flow(api, [{"type": "sms", "templateId": templates["sms"]}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    db.session.expire_all()
    [text] = db.session.scalars(select(SmsMessage).where(SmsMessage.flow_run_id.is_not(None)))
    assert text.status == "queued" and text.next_attempt_at > now + timedelta(hours=2)


# --- the pages ---------------------------------------------------------------------------


def test_the_flow_pages_build_activate_and_pause_a_flow(
    client, login, manager, make_customer, templates
):
    from tests.conftest import csrf_from

    login(manager)
    index = client.get("/sales/marketing/flows")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert 'href="/sales/marketing/flows"' in html  # the navigation links it
    token = csrf_from(html)
    form = {"csrf_token": token, "name": "", "trigger": "no_order", "days": "x"}
    refused = client.post("/sales/marketing/flows", data=form)
    assert refused.status_code == 422
    assert 'value="x"' in refused.get_data(as_text=True)  # what was typed stays
    form.update(name="Win-back", days="45", exitOnOrder="on")
    created = client.post("/sales/marketing/flows", data=form)
    assert created.status_code == 302
    editor_url = created.headers["Location"]
    flow_id = editor_url.rsplit("/", 1)[-1]
    add = f"/sales/marketing/flows/{flow_id}/steps"
    assert client.post(add, data={"csrf_token": token, "type": "email"}).status_code == 302
    refused = client.post(f"/sales/marketing/flows/{flow_id}/activate", data={"csrf_token": token})
    assert refused.status_code == 422 and "steps[0].templateId" in refused.get_data(as_text=True)
    delete = f"/sales/marketing/flows/{flow_id}/steps/s1/delete"
    assert client.post(delete, data={"csrf_token": token}).status_code == 302
    step = {"csrf_token": token, "type": "email", "templateId": templates["email"]}
    assert client.post(add, data=step).status_code == 302
    wait = {"csrf_token": token, "type": "wait", "untilWeekday": "tue", "untilTime": "09:00"}
    assert client.post(add, data=wait).status_code == 302
    activated = client.post(
        f"/sales/marketing/flows/{flow_id}/activate", data={"csrf_token": token}
    )
    assert activated.status_code == 302
    customer = make_customer()
    added = client.post(
        f"/sales/marketing/flows/{flow_id}/add",
        data={"csrf_token": token, "customerId": customer.public_id},
    )
    assert added.status_code == 302
    page = client.get(editor_url).get_data(as_text=True)
    assert "active" in page and "until tue 09:00" in page
    assert "passed 1 · waiting 0" in page and "passed 0 · waiting 1" in page
    paused = client.post(f"/sales/marketing/flows/{flow_id}/pause", data={"csrf_token": token})
    assert paused.status_code == 302
    assert ">paused<" in client.get(editor_url).get_data(as_text=True)


def test_reps_do_not_see_the_flow_pages(client, login, rep):
    login(rep)
    assert client.get("/sales/marketing/flows").status_code == 403
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert 'href="/sales/marketing/flows"' not in home


def test_an_opt_out_ends_the_runs_of_flows_that_exit_on_it(api, make_customer, templates):
    from app.messaging import consent

    leaving, staying = make_customer(), make_customer()
    flow = make_flow(
        api,
        [{"type": "wait", "days": 1}, {"type": "email", "templateId": templates["email"]}],
        exitOnOptOut=True,
    )
    kept = make_flow(
        api, [{"type": "wait", "days": 1}, {"type": "tag", "tag": "x"}], exitOnOptOut=False
    )
    for customer in (leaving, staying):
        api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    api("POST", f"/{kept['id']}/runs", 201, customerId=leaving.public_id)
    consent.opt_out(
        "email", leaving.email, reason="unsubscribe", source="test", customer_id=leaving.id
    )
    states = {(r.flow_id, r.customer_id): (r.state, r.exit_reason) for r in runs()}
    assert sorted(states.values()) == [
        ("exited", "opted_out"),
        ("waiting", None),
        ("waiting", None),
    ]
    time_passes(25)
    assert [m.to_address for m in flow_emails(staying)] == [staying.email]
    assert flow_emails(leaving) == []


def test_a_click_trigger_may_name_its_campaign(api, make_customer):
    from app.messaging.models import Campaign

    campaign = Campaign(name="Specials", channel="email", status="sent")
    other = Campaign(name="Newsletter", channel="email", status="sent")
    db.session.add_all([campaign, other])
    db.session.commit()
    refused = api("POST", "", 422, name="x", trigger={"type": "clicked", "campaignId": "cmp_no"})
    assert "trigger.campaignId" in refused["error"]["fields"]
    flow = make_flow(
        api,
        [{"type": "tag", "tag": "specials"}],
        trigger={"type": "clicked", "campaignId": campaign.public_id},
    )
    assert flow["trigger"] == {"type": "clicked", "campaignId": campaign.public_id}
    fan, reader = make_customer(), make_customer()
    for customer, clicked in ((fan, campaign), (reader, other)):
        message = EmailMessage(
            customer_id=customer.id, campaign_id=clicked.id, to_address=customer.email,
            status="sent", subject="S", sent_at=utcnow() - timedelta(hours=1),
        )  # fmt: skip
        db.session.add(message)
        db.session.commit()
        tracking.record_engagement(message, "click")
    assert [r.customer_id for r in runs()] == [fan.id]


def test_an_engagement_score_crossing_the_threshold_enters_once_per_crossing(api, make_customer):
    """Below to at-or-above enters; staying above does not, even when re-entry would allow
    it; a fresh crossing enters again. The threshold is checked at the API."""
    from app.crm.models import Customer
    from app.engagement.score import rescore_customers

    refused = api(
        "POST", "", 422, name="Fans", trigger={"type": "score_reached", "threshold": 0}, steps=[]
    )
    assert "trigger.threshold" in refused["error"]["fields"]
    customer = make_customer()
    make_flow(
        api,
        [{"type": "tag", "tag": "fan"}],
        trigger={"type": "score_reached", "threshold": 8},
        reentry="after",
        reentryDays=1,
    )

    def click() -> None:
        message = EmailMessage(
            customer_id=customer.id,
            to_address=customer.email,
            status="sent",
            subject="Specials",
            sent_at=utcnow() - timedelta(hours=1),
        )
        db.session.add(message)
        db.session.commit()
        tracking.record_engagement(message, "click")

    click()
    rescore_customers([customer.id])
    assert runs() == []  # 5: below 8
    click()
    rescore_customers([customer.id])
    assert [r.customer_id for r in runs()] == [customer.id]  # 10: crossed
    db.session.execute(update(FlowRun).values(entered_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    click()
    rescore_customers([customer.id])
    assert len(runs()) == 1  # 15: still above, no new crossing
    db.session.execute(update(Customer).values(engagement_score=3))
    db.session.commit()
    rescore_customers([customer.id])
    assert len(runs()) == 2  # from 3 to 15: a new crossing


def test_the_flow_page_offers_the_score_and_date_triggers_and_names_a_bad_value(
    client, login, manager, make_customer
):
    from tests.conftest import csrf_from

    make_customer(custom_fields={"birthday": "1980-05-04"})  # a custom field in use
    login(manager)
    html = client.get("/sales/marketing/flows").get_data(as_text=True)
    assert 'value="score_reached"' in html and 'for="flow-threshold"' in html
    assert 'value="date_field"' in html and 'for="flow-date-field"' in html
    assert 'for="flow-offset-days"' in html
    form = {"csrf_token": csrf_from(html), "name": "Fans", "trigger": "score_reached"}
    refused = client.post("/sales/marketing/flows", data={**form, "threshold": "lots"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "a whole engagement score, 1-100" in page and 'value="lots"' in page
    created = client.post("/sales/marketing/flows", data={**form, "threshold": "40"})
    assert created.status_code == 302
    dated = {**form, "trigger": "date_field", "field": "birthday", "offsetDays": "soon"}
    refused = client.post("/sales/marketing/flows", data=dated)
    assert refused.status_code == 422 and 'value="soon"' in refused.get_data(as_text=True)
    dated["offsetDays"] = "-7"
    assert client.post("/sales/marketing/flows", data=dated).status_code == 302


def test_a_date_field_enters_n_days_before_it_comes_round_on_the_customers_clock(
    api, make_customer
):
    """At 23:30 UTC on 10 March it is already 11 March in Auckland: a day before a
    12 March anniversary there, not yet in London (an hour later it is); a rerun enters
    no one twice. Bad dates and customers without the field are passed over."""
    from app.crm.models import CommunicationPreference

    for bad, field in (({"offsetDays": 1}, "trigger.field"), ({"field": "x", "offsetDays": 900},
                        "trigger.offsetDays")):  # fmt: skip
        refused = api("POST", "", 422, name="Bad", trigger={"type": "date_field", **bad}, steps=[])
        assert field in refused["error"]["fields"]
    auckland = make_customer(custom_fields={"anniversary": "2019-03-12"})
    london_early = make_customer(custom_fields={"anniversary": "2015-03-12"})
    london_due = make_customer(custom_fields={"anniversary": "2015-03-11"})
    make_customer(custom_fields={"anniversary": "soon"})
    make_customer()
    for customer, zone_name in ((auckland, "Pacific/Auckland"), (london_early, "Europe/London"),
                                (london_due, "Europe/London")):  # fmt: skip
        db.session.add(CommunicationPreference(customer_id=customer.id, timezone=zone_name))
    db.session.commit()
    make_flow(
        api,
        [{"type": "tag", "tag": "anniversary"}],
        trigger={"type": "date_field", "field": "anniversary", "offsetDays": -1},
        reentry="after",
        reentryDays=1,
    )
    now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    assert triggers.date_field_daily(now) == 2
    assert sorted(r.customer_id for r in runs()) == sorted([auckland.id, london_due.id])
    assert triggers.date_field_daily(now) == 0  # a rerun: already entered
    assert triggers.date_field_daily(now + timedelta(hours=1)) == 1  # London's 11th came
    assert london_early.id in [r.customer_id for r in runs()]
