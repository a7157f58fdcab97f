"""Send a test of an email template to the signed-in user: how it looks in a real inbox.

The template is rendered for a customer the user can see (or sample values) and goes
through the email channel's provider, as any email would (the dev outbox in dev mode),
with "[Test]" before its subject. No outbox row, activity or consent: it goes only to
the user's own address.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from flask import current_app

from app.auth.models import User
from app.dev.models import DevMessage
from app.errors import Conflict, Invalid
from app.extensions import db
from app.messaging import delivery, rendering
from app.messaging.models import Template
from providers.email import OutgoingEmail
from providers.errors import ProviderError

SUBJECT_PREFIX = "[Test] "


def send_test(user: User, template: Template, customer: Any | None = None) -> str:
    """Render ``template`` for ``customer`` (sample values without one) and send it to
    ``user``'s address; that address. :class:`Invalid` or :class:`Conflict` if it cannot."""
    if template.type != "email":
        raise Invalid("Only email templates", {"template": "only an email template has a test"})
    if not user.email:
        raise Invalid("No address", {"to": "your account has no email address"})
    if customer is not None:
        context = rendering.customer_context(customer)
        context.setdefault("unsubscribe_url", "#unsubscribe")
    else:
        context = rendering.sample_context(set())
    try:
        rendered = rendering.render_email(template.subject or "", template.html or "", context)
    except rendering.RenderLimit as exc:
        raise Invalid("Too big", {exc.field or "html": str(exc)}) from exc
    try:
        provider = delivery.channel_for("email").provider()
    except LookupError as exc:
        raise Conflict("The email channel is not enabled", {"template": str(exc)}) from exc
    name, address = parseaddr(current_app.config.get("FROM_EMAIL") or "")
    message = OutgoingEmail(
        to=user.email,
        from_email=address or "marketing@example.com",
        from_name=name or None,
        subject=SUBJECT_PREFIX + rendered.subject,
        html=rendered.html,
        text=rendered.text,
    )
    try:
        provider.send(message)
    except ProviderError as exc:
        raise Conflict(f"The provider refused the test: {exc}") from exc
    for kept in db.session.new:  # dev mode: the test shows in its sender's outbox
        if isinstance(kept, DevMessage) and kept.user_id is None and kept.to == user.email:
            kept.user_id = user.id
    db.session.commit()
    return user.email
