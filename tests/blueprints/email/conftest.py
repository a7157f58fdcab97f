"""Fixtures for the email channel: API calls, lists, fakes wired in as the provider."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db

API = "/api/sales/marketing"


@pytest.fixture
def call(client, token_headers):
    """``call(user, "post", "/email/send", json=...)`` with the user's bearer token."""
    cache: dict[int, dict[str, str]] = {}

    def do(user, method: str, path: str, **kwargs: Any):
        if user.id not in cache:
            cache[user.id] = token_headers(user)
        headers = {**cache[user.id], **kwargs.pop("headers", {})}
        public = ("/api/", "/sales/", "/email/t/", "/email/unsubscribe/", "/email/preferences/")
        url = path if path.startswith(public) else API + path
        return client.open(url, method=method.upper(), headers=headers, **kwargs)

    return do


@pytest.fixture
def make_list(app):
    """A manual list owned by ``owner`` holding ``customers``; returns its public id."""
    from blueprints.lists.models import EmailList, EmailListMember

    def make(owner, customers, name: str = "Tasting") -> str:
        lst = EmailList(name=name, owner_id=owner.id, is_smart=False, member_count=len(customers))
        db.session.add(lst)
        db.session.flush()
        db.session.add_all(EmailListMember(list_id=lst.id, customer_id=c.id) for c in customers)
        db.session.commit()
        return lst.public_id

    return make


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def dev_messages(channel: str = "email") -> list[Any]:
    from app.dev.models import DevMessage

    return list(db.session.scalars(select(DevMessage).where(DevMessage.channel == channel)))
