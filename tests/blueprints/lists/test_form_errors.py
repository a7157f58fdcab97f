"""The list forms keep what was typed and say what is wrong."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from blueprints.lists.models import EmailList, EmailListMember
from tests.conftest import csrf_from

NEW = "/sales/marketing/lists/new"


def test_a_refused_new_list_names_every_field(client, login, manager):
    """A description over its limit re-rendered the form with no message and a 200."""
    login(manager)
    token = csrf_from(client.get(NEW).get_data(as_text=True))
    response = client.post(
        NEW, data={"name": "Cellar club", "description": "D" * 2001, "csrf_token": token}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r"<strong>Description</strong>: Field cannot be longer than 2000", html)
    assert 'value="Cellar club"' in html and "D" * 2001 in html
    assert db.session.scalar(select(func.count()).select_from(EmailList)) == 0


def test_adding_an_unknown_member_keeps_the_address_and_says_why(
    client, login, manager, make_customer
):
    make_customer(email="known@cellar.example")
    login(manager)
    token = csrf_from(client.get(NEW).get_data(as_text=True))
    url = client.post(NEW, data={"name": "Manual", "csrf_token": token}).headers["Location"]
    unknown = client.post(
        f"{url}/members/add", data={"email": "nobody@nowhere.example", "csrf_token": token}
    )
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 422
    assert re.search(r'data-testid="error-email">nobody@nowhere\.example: ', html)
    assert 'value="nobody@nowhere.example"' in html
    empty = client.post(f"{url}/members/add", data={"email": "", "csrf_token": token})
    assert empty.status_code == 422
    assert 'data-testid="error-email">This field is required.' in empty.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(EmailListMember)) == 0
