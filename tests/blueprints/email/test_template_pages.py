"""The templates page and API: editing saves, every error shows, reps keep to their own
templates, and deleting asks first."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.messaging import templates as tpl
from app.messaging.models import Template
from tests.conftest import csrf_from

PAGE = "/sales/marketing/templates"


def _default(type_: str = "email", name: str = "Weekly Specials") -> Template:
    tpl.ensure_defaults()
    return db.session.scalar(select(Template).where(Template.type == type_, Template.name == name))


def _reload(template_id: int) -> Template | None:
    db.session.expire_all()
    return db.session.get(Template, template_id)


def _own_template(user, name: str = "My note", body: str = "Hi {{ customer_name }}") -> Template:
    template = Template(type="sms", name=name, body=body, created_by_id=user.id)
    db.session.add(template)
    db.session.commit()
    return template


def test_manager_saves_an_existing_template_without_a_type(client, login, manager):
    """The disabled Type select is not posted: saving must not need it."""
    template = _default()
    login(manager)
    page = client.get(f"{PAGE}?id={template.public_id}").get_data(as_text=True)
    assert 'data-testid="template-type"' in page and 'name="type"' not in page
    response = client.post(
        f"{PAGE}?id={template.public_id}",
        data={
            "csrf_token": csrf_from(page),
            "name": "Weekly Specials (North)",
            "subject": "Specials for {{ customer_name }}",
            "html": "<p>Hi {{ customer_name }}</p>",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    saved = _reload(template.id)
    assert saved.name == "Weekly Specials (North)" and saved.type == "email"
    assert saved.subject == "Specials for {{ customer_name }}"
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Template “Weekly Specials (North)” saved." in shown


def test_a_refused_save_shows_every_error_and_keeps_what_was_typed(client, login, manager):
    template = _default()
    login(manager)
    page = client.get(f"{PAGE}?id={template.public_id}").get_data(as_text=True)
    response = client.post(
        f"{PAGE}?id={template.public_id}",
        data={"csrf_token": csrf_from(page), "name": "", "subject": "S" * 301, "html": "<p>x</p>"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-testid="error-name"' in html and "This field is required." in html
    assert 'data-testid="error-subject"' in html and "300 characters" in html
    assert "S" * 301 in html  # the typed subject is still in its input
    # a refusal of the service (an unknown token) is shown beside its field too
    response = client.post(
        f"{PAGE}?id={template.public_id}",
        data={
            "csrf_token": csrf_from(page),
            "name": "Specials",
            "subject": "Hi",
            "html": "{{ x }}",
        },
    )
    assert response.status_code == 422
    assert re.search(r'data-testid="error-html">[^<]*x', response.get_data(as_text=True))
    assert _reload(template.id).name == "Weekly Specials"


def test_a_new_template_with_no_type_says_so(client, login, manager):
    login(manager)
    page = client.get(PAGE).get_data(as_text=True)
    response = client.post(
        PAGE, data={"csrf_token": csrf_from(page), "name": "X", "type": "fax", "body": "hi"}
    )
    assert response.status_code == 422
    assert 'data-testid="error-type"' in response.get_data(as_text=True)
    assert db.session.scalar(select(Template).where(Template.name == "X")) is None


def test_rep_sees_shared_templates_read_only_and_cannot_change_them(client, login, rep, manager):
    shared = _default("sms")
    managers = Template(type="email", name="Managers'", subject="s", html="<p>h</p>")
    managers.created_by_id = manager.id
    db.session.add(managers)
    db.session.commit()
    login(rep)
    listing = client.get(PAGE).get_data(as_text=True)
    assert listing.count(">shared</span>") == 11  # the ten defaults and the manager's
    for template in (shared, managers):
        page = client.get(f"{PAGE}?id={template.public_id}").get_data(as_text=True)
        assert 'data-testid="template-shared"' in page
        assert 'data-testid="template-save"' not in page
        assert 'data-testid="template-delete"' not in page
        token = csrf_from(page)
        posted = client.post(
            f"{PAGE}?id={template.public_id}",
            data={"csrf_token": token, "name": "Mine now", "body": "x", "subject": "s"},
        )
        assert posted.status_code == 403
        delete = f"{PAGE}/{template.public_id}/delete"
        assert client.get(delete).status_code == 403
        assert client.post(delete, data={"csrf_token": token, "confirm": "yes"}).status_code == 403
        assert _reload(template.id).name != "Mine now"


def test_rep_creates_edits_and_deletes_their_own_template(client, login, rep):
    login(rep)
    page = client.get(PAGE).get_data(as_text=True)
    created = client.post(
        PAGE,
        data={"csrf_token": csrf_from(page), "type": "sms", "name": "Mine", "body": "Hello"},
    )
    assert created.status_code == 302
    mine = db.session.scalar(select(Template).where(Template.name == "Mine"))
    assert mine.created_by_id == rep.id
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="template-save"' in page and 'data-testid="template-delete"' in page
    edited = client.post(
        f"{PAGE}?id={mine.public_id}",
        data={"csrf_token": csrf_from(page), "name": "Mine", "body": "Hello {{ customer_name }}"},
    )
    assert edited.status_code == 302 and _reload(mine.id).body == "Hello {{ customer_name }}"
    confirm = client.get(f"{PAGE}/{mine.public_id}/delete")
    assert confirm.status_code == 200
    confirm_page = confirm.get_data(as_text=True)
    assert 'data-testid="confirm-delete"' in confirm_page and "“Mine”" in confirm_page
    done = client.post(
        f"{PAGE}/{mine.public_id}/delete",
        data={"csrf_token": csrf_from(confirm_page), "confirm": "yes"},
    )
    assert done.status_code == 302 and _reload(mine.id) is None


def test_deleting_needs_the_confirm_step(client, login, manager):
    template = _default()
    login(manager)
    page = client.get(f"{PAGE}?id={template.public_id}").get_data(as_text=True)
    # the editor's Delete is a link to the confirmation page, not a button that deletes
    assert f'href="{PAGE}/{template.public_id}/delete"' in page
    unconfirmed = client.post(
        f"{PAGE}/{template.public_id}/delete", data={"csrf_token": csrf_from(page)}
    )
    assert unconfirmed.status_code == 200
    assert 'data-testid="confirm-delete"' in unconfirmed.get_data(as_text=True)
    assert _reload(template.id) is not None


def test_api_keeps_reps_off_shared_templates(call, rep, manager, admin):
    shared = _default("sms")
    mine = _own_template(rep)
    url = "/api/sales/marketing/templates/"
    refused = call(rep, "patch", url + shared.public_id, json={"name": "Rep's"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert call(rep, "delete", url + shared.public_id).status_code == 403
    assert _reload(shared.id).name == "Weekly Specials"
    assert call(rep, "patch", url + mine.public_id, json={"name": "Mine 2"}).status_code == 200
    assert call(manager, "patch", url + mine.public_id, json={"name": "Mine 3"}).status_code == 200
    assert (
        call(admin, "patch", url + shared.public_id, json={"name": "Specials"}).status_code == 200
    )
    other_rep_template = _own_template(manager, name="Manager's")
    assert call(rep, "delete", url + other_rep_template.public_id).status_code == 403
    assert call(rep, "delete", url + mine.public_id).status_code == 204
    assert call(manager, "delete", url + other_rep_template.public_id).status_code == 204
