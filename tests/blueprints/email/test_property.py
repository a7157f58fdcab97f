"""Property: whatever the interleaving of opt-outs, suppressions, complaints, single sends
with any ``to`` and any ``customerId``, anonymous preference-page posts and bulk sends, no
message reaches an opted-out or suppressed address (counted at the console sink), and no
anonymous post lifts an opt-out."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.crm.models import Consent, ConsentChange
from app.dev.models import DevMessage
from app.errors import DomainError
from app.extensions import db
from app.messaging.consent import is_suppressed, opt_in, opt_out, status_of
from app.messaging.models import Suppression
from blueprints.email import services, tracking
from blueprints.email.models import EmailMessage

N = 4
steps = st.lists(
    st.one_of(
        st.tuples(st.just("opt_out"), st.integers(0, N - 1)),
        st.tuples(st.just("bounce"), st.integers(0, N - 1)),
        st.tuples(st.just("opt_in"), st.integers(0, N - 1)),
        st.tuples(st.just("complaint"), st.integers(0, N - 1)),
        st.tuples(st.just("single"), st.integers(0, N - 1)),
        # any ``to`` paired with any ``customerId``: (address of i, customer j)
        st.tuples(st.just("single_any"), st.tuples(st.integers(0, N - 1), st.integers(0, N - 1))),
        # an anonymous "subscribe me again" on the preference page of i's address
        st.tuples(st.just("preferences"), st.integers(0, N - 1)),
        st.tuples(st.just("bulk"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_never_sends_to_opted_out(app, client, manager, make_customer, make_list, steps):
    db.session.query(DevMessage).delete()
    db.session.query(EmailMessage).delete()
    for table in (Consent, ConsentChange, Suppression):
        db.session.query(table).delete()
    db.session.commit()
    customers = [make_customer("North") for _ in range(N)]
    list_id = make_list(manager, customers)
    for action, index in steps:
        customer = customers[index] if isinstance(index, int) else None
        before = db.session.query(DevMessage).count()
        blocked = {c.email for c in customers if _blocked(c)}
        if action == "single_any":
            address_of, customer_of = customers[index[0]], customers[index[1]]
            try:
                services.send_single(
                    manager,
                    to=address_of.email,
                    customer_id=customer_of.public_id,
                    subject="s",
                    html="<p>x</p>",
                )
            except Exception as exc:
                db.session.rollback()
                assert address_of is not customer_of or getattr(exc, "code", None) == "opted_out"
            else:
                assert address_of is customer_of and address_of.email not in blocked
        elif action == "preferences":
            message = EmailMessage(
                customer_id=customer.id, to_address=customer.email, status="sent"
            )
            db.session.add(message)
            db.session.commit()
            url = tracking.preferences_url(message.id).replace("http://localhost", "")
            client.post(url, data={"action": "subscribe"})
            still = {c.email for c in customers if _blocked(c)}
            assert blocked <= still, "an anonymous page post lifted an opt-out"
        elif action == "complaint":
            opt_out("email", customer.email, reason="complaint", source="t")
        elif action == "opt_out":
            opt_out(
                "email", customer.email, reason="unsubscribe", source="t", customer_id=customer.id
            )
        elif action == "bounce":
            opt_out("email", customer.email, reason="bounce", source="t")
        elif action == "opt_in":
            opt_in("email", customer.email, source="t", customer_id=customer.id)
        elif action == "single":
            try:
                services.send_single(
                    manager,
                    to=customer.email,
                    customer_id=customer.public_id,
                    subject="s",
                    html="<p>x</p>",
                )
            except Exception as exc:
                assert getattr(exc, "code", None) == "opted_out" and customer.email in blocked
        else:
            try:
                services.send_bulk(manager, list_id=list_id, subject="s", html="<p>x</p>")
            except DomainError as exc:  # nobody reachable: refused, nothing sent
                assert "listId" in exc.fields and len(blocked) == N, (exc.fields, blocked)
        new = db.session.query(DevMessage).order_by(DevMessage.id).offset(before).all()
        # The double opt-in confirmation is transactional (the person asked for it).
        marketing = [m for m in new if m.subject != "Confirm your subscription"]
        assert not {m.to for m in marketing} & blocked, (action, blocked)


def _blocked(customer) -> bool:
    db.session.refresh(customer)
    return (
        is_suppressed("email", customer.email) or status_of("email", customer.email) == "opted_out"
    )
