"""Property: whatever Mailchimp's webhooks say, in any order, they never lift an opt-out
or suppression made in Decant; an unsubscribe or cleaned address is always blocked."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.crm.models import Consent, ConsentChange
from app.extensions import db
from app.messaging import consent
from app.messaging.models import Suppression
from blueprints.mailchimp.models import MailchimpUnlinkedMember
from blueprints.webhooks.models import WebhookEvent
from tests.blueprints.mailchimp.test_webhooks import _event, _url

ADDRESSES = ["ann@example.com", "bob@example.com", "cy@example.com"]
KINDS = ["subscribe", "unsubscribe", "delete", "cleaned", "profile", "decant_opt_out"]
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, len(ADDRESSES) - 1)),
    min_size=1,
    max_size=10,
)


def _blocked() -> set[str]:
    return {a for a in ADDRESSES if consent.refusal("email", None, a) is not None}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_mailchimp_webhooks_never_lift_a_decant_opt_out(client, connected, make_customer, steps):
    for table in (Consent, ConsentChange, Suppression, WebhookEvent, MailchimpUnlinkedMember):
        db.session.query(table).delete()
    db.session.commit()
    for address in ADDRESSES:
        if consent.customers_with("email", address) == []:
            make_customer(email=address)
    for n, (kind, index) in enumerate(steps):
        address = ADDRESSES[index]
        before = _blocked()
        fired = f"2026-04-01 10:{n:02d}:00"
        if kind == "decant_opt_out":
            consent.opt_out("email", address, reason="unsubscribe", source="test")
        elif kind == "delete":
            form = _event("unsubscribe", email=address, fired_at=fired, action="delete")
            assert client.post(_url(), data=form).status_code == 200
        elif kind == "cleaned":
            form = _event("cleaned", email=address, fired_at=fired, reason="hard")
            assert client.post(_url(), data=form).status_code == 200
        else:
            form = _event(kind, email=address, fired_at=fired)
            assert client.post(_url(), data=form).status_code == 200
        after = _blocked()
        assert before <= after, (kind, address, before, after)
        if kind in ("unsubscribe", "cleaned", "decant_opt_out"):
            assert address in after, (kind, address)
