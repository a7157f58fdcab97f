"""Property: whatever the interleaving of opt-outs, suppressions, single and bulk sends,
no message reaches an opted-out or suppressed address (counted at the console sink)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.errors import ApiError
from app.dev.models import DevMessage
from app.extensions import db
from app.messaging.consent import is_suppressed, opt_in, opt_out
from blueprints.email import services
from blueprints.email.models import EmailMessage

N = 4
steps = st.lists(
    st.one_of(
        st.tuples(st.just("opt_out"), st.integers(0, N - 1)),
        st.tuples(st.just("bounce"), st.integers(0, N - 1)),
        st.tuples(st.just("opt_in"), st.integers(0, N - 1)),
        st.tuples(st.just("single"), st.integers(0, N - 1)),
        st.tuples(st.just("bulk"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_never_sends_to_opted_out(app, manager, make_customer, make_list, steps):
    db.session.query(DevMessage).delete()
    db.session.query(EmailMessage).delete()
    customers = [make_customer("North") for _ in range(N)]
    list_id = make_list(manager, customers)
    for action, index in steps:
        customer = customers[index]
        before = db.session.query(DevMessage).count()
        blocked = {c.email for c in customers if _blocked(c)}
        if action == "opt_out":
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
            except ApiError as exc:  # nobody reachable: refused, nothing sent
                assert "listId" in exc.fields and len(blocked) == N, (exc.fields, blocked)
        new = db.session.query(DevMessage).order_by(DevMessage.id).offset(before).all()
        assert not {m.to for m in new} & blocked, (action, blocked)


def _blocked(customer) -> bool:
    db.session.refresh(customer)
    pref = customer.preference
    return is_suppressed("email", customer.email) or bool(pref and pref.email_status == "opted_out")
