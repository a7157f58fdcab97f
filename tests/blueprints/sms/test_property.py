"""Property: whatever the consent states, the STOP wordings texted in, the single sends
(any ``to`` with any ``customerId``) and the flows' SMS steps, no text reaches a number
that has not opted in or has said no."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.crm.models import Consent, ConsentChange, Customer
from app.extensions import db
from app.messaging import delivery
from app.messaging.models import Campaign, Suppression
from blueprints.sms import outbound
from blueprints.sms.models import SmsConversation, SmsMessage

STATES = st.sampled_from(["opted_in", "opted_out", "unknown", "stop_keyword", "none"])
#: How people say no (issue 20's audit wordings and the CTIA/FCC families).
STOP_WORDINGS = st.sampled_from(
    [
        "STOP?",
        "Stop,",
        "'STOP'",
        "STOP \U0001f6d1",
        "\uff33\uff34\uff2f\uff30",
        "STOP\u200b",
        "Stop please",
        "please stop",
        "Stop texting me",
        "Opt out",
        "OPT-OUT",
        "unsubscribe",
        "cancel",
        "End.",
        "QUIT",
        "revoke",
    ]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    states=st.lists(STATES, min_size=1, max_size=6),
    singles=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=6),
    wordings=st.lists(STOP_WORDINGS, min_size=6, max_size=6),
)
def test_opted_out_numbers_never_get_a_text(
    app, manager, make_customer, opt_in, fake_twilio, inbound, states, singles, wordings
):
    from app.flows import engine
    from app.flows.models import FlowRun, FlowStepExecution
    from app.messaging.consent import record
    from blueprints.sms import services

    tables = (
        FlowStepExecution, FlowRun, SmsMessage, SmsConversation, Campaign, Customer, Consent,
        ConsentChange, Suppression,
    )  # fmt: skip
    for table in tables:  # every example starts from nothing (a text in lasts 24 h)
        db.session.execute(db.delete(table))
    db.session.commit()
    fake_twilio.received.clear()
    customers = []
    for i, state in enumerate(states):
        c = make_customer(phone=f"+1212555{1000 + i:04d}")
        if state in ("opted_in", "opted_out", "unknown"):
            record("sms", c.phone, state, source="test", customer_id=c.id)
        elif state == "stop_keyword":
            record("sms", c.phone, "opted_in", source="test", customer_id=c.id)
        db.session.commit()
        customers.append(c)
    campaign = Campaign(channel="sms", name="p", body="hi", audience_ref="-", status="sending")
    db.session.add(campaign)
    db.session.commit()
    outbound.materialize(campaign, select(Customer.id))
    db.session.commit()
    for c, state in zip(customers, states, strict=True):
        if state == "stop_keyword":  # says no in their own words after the rows were written
            assert inbound(c.phone, wordings[customers.index(c)]).status_code == 200
    delivery.send_campaign_batches(campaign.id)
    for to_index, customer_index in singles:
        if max(to_index, customer_index) < len(customers):
            try:  # any ``to`` with any ``customerId``, as the API takes them
                services.send_to_customer(
                    manager,
                    customer_id=customers[customer_index].public_id,
                    to=customers[to_index].phone,
                    body="one",
                    template_id=None,
                )
            except Exception:  # refused (409 or 422): that is the point
                db.session.rollback()
    app.config["FLOW_CAP_SMS_HOURS"] = 0  # no cap: every flow text is tried
    flow = _sms_flow(manager)
    for c in customers:  # a flow's text obeys consent as a campaign's does
        engine.enter(flow, c.id)
    allowed = {c.phone for c, s in zip(customers, states, strict=True) if s == "opted_in"}
    reached = {m.to for m in fake_twilio.received}
    assert reached <= allowed


def _sms_flow(manager):
    """An active flow texting a template (made once per test; reused across examples)."""
    from app.flows import service
    from app.flows.models import Flow
    from app.messaging.models import Template

    found = db.session.scalar(select(Flow).where(Flow.name == "property"))
    if found is not None:
        return found
    template = Template(type="sms", name="property", body="New wines are in")
    db.session.add(template)
    db.session.commit()
    flow = service.create(
        manager,
        service.FlowInput(
            name="property",
            trigger_type="manual",
            steps=[{"type": "sms", "templateId": template.public_id}],
        ),
    )
    return service.activate(flow, manager)
