"""A flow's email step queues an outbox row without a body; the delivery engine renders it
from its template when it goes, as a campaign's: the customer's tokens as they are then,
the unsubscribe link, tracked links of its own, and consent checked on the address at
that moment (an opt-out between queueing and sending skips it)."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Activity
from app.dev.models import DevMessage
from app.extensions import db
from app.flows.models import Flow, FlowRun
from app.flows.senders import sender_for
from app.messaging import consent, delivery
from app.messaging.models import Template
from app.models_base import utcnow
from blueprints.email import links, tracking
from blueprints.email.models import EmailMessage
from tests.app.test_flows import (  # noqa: F401 - fixtures
    api,
    flow_emails,
    make_flow,
    runs,
    templates,
)

HTML = (
    "<p>Dear {{ customer_name }}</p>"
    '<p><a href="https://shop.example/reorder">Reorder</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Leave</a></p>'
)


def _template() -> Template:
    template = Template(type="email", name="Reorder", subject="For {{ customer_name }}", html=HTML)
    db.session.add(template)
    db.session.commit()
    return template


def _captured(address: str) -> list[DevMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(DevMessage).where(DevMessage.to == address)))


def test_a_flow_email_is_rendered_when_it_goes_with_its_tokens_and_links(
    api,  # noqa: F811 - the shared fixture
    make_customer,
):
    customer = make_customer(email="Fan@Gmail.com")
    template = _template()
    flow = make_flow(api, [{"type": "email", "templateId": template.public_id}])
    api("POST", f"/{flow['id']}/runs", 201, customerId=customer.public_id)
    [message] = flow_emails(customer)
    assert message.status == "sent" and message.template_id == template.id
    # the row keeps no body (as a campaign's); its subject is stored when it went
    assert message.html is None and message.text is None
    assert message.subject == f"For {customer.name}"
    assert message.consumer_mailbox is True  # written by the INSERT ... SELECT
    [sent] = _captured("Fan@Gmail.com")
    assert sent.subject == f"For {customer.name}"
    assert f"Dear {customer.name}" in (sent.html or "")
    assert tracking.unsubscribe_url(message.id) in (sent.html or "")
    token = tracking.tracking_token(message.id)
    assert tracking.link_url(token, 0) in (sent.html or "")
    assert "https://shop.example/reorder" not in (sent.html or "")  # tracked, not bare
    assert links.resolve(message, 0) == "https://shop.example/reorder"
    activity = db.session.scalar(select(Activity).where(Activity.customer_id == customer.id))
    assert activity is not None and activity.subject == f"For {customer.name}"


def _queue(call, customers, template) -> dict[int, int | str]:
    """The email step's queueing (the registered FlowSender, as the engine calls it for
    runs of a flow made through ``call``, the API), committed, not yet sent."""
    sender = sender_for("email")
    assert sender is not None
    made = make_flow(call, [{"type": "email", "templateId": template.public_id}], activate=False)
    flow_id = db.session.scalar(select(Flow.id).where(Flow.public_id == made["id"]))
    run_ids = []
    for customer in customers:
        run = FlowRun(
            flow_id=flow_id,
            version=1,
            customer_id=customer.id,
            entry_no=1,
            state="running",
            current_step="s1",
            entered_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        run_ids.append(run.id)
    queued = sender.queue_many(
        template, [(c.id, r) for c, r in zip(customers, run_ids, strict=True)]
    )
    db.session.commit()
    return queued


def test_the_body_uses_the_customer_as_at_send_time_and_an_opt_out_since_skips_it(
    api,  # noqa: F811 - the shared fixture
    make_customer,
):
    stays, leaves = make_customer(), make_customer()
    template = _template()
    queued = _queue(api, [stays, leaves], template)
    ids = sorted(v for v in queued.values() if isinstance(v, int))
    assert len(ids) == 2
    rows = db.session.scalars(select(EmailMessage).where(EmailMessage.id.in_(ids))).all()
    assert {(r.status, r.html, r.subject) for r in rows} == {("queued", None, None)}
    # between queueing and sending: a rename, and an opt-out of the other address
    stays.name = "Renamed Bistro"
    db.session.commit()
    consent.opt_out("email", leaves.email, reason="unsubscribe", source="test")
    delivery.send_many("email", ids)
    db.session.expire_all()
    by_customer = {
        r.customer_id: r
        for r in db.session.scalars(select(EmailMessage).where(EmailMessage.id.in_(ids)))
    }
    assert by_customer[stays.id].status == "sent"
    assert by_customer[stays.id].subject == "For Renamed Bistro"
    [sent] = _captured(stays.email)
    assert "Dear Renamed Bistro" in (sent.html or "")
    assert by_customer[leaves.id].status == "suppressed"
    assert _captured(leaves.email) == []


def test_a_flow_row_whose_template_is_gone_fails_at_send_time_without_sending(
    api,  # noqa: F811 - the shared fixture
    make_customer,
):
    customer = make_customer()
    template = _template()
    queued = _queue(api, [customer], template)
    [message_id] = [v for v in queued.values() if isinstance(v, int)]
    db.session.delete(template)  # the row's template_id is set to NULL
    db.session.commit()
    delivery.send_many("email", [message_id])
    db.session.expire_all()
    message = db.session.get_one(EmailMessage, message_id)
    assert message.status == "failed" and message.error_code == "render"
    assert _captured(customer.email) == []
