"""The campaigns index and the template list sort, search and page on the server."""

from __future__ import annotations

from app.extensions import db
from app.messaging.models import Campaign, Template


def _campaigns(manager, *names: str) -> None:
    for name in names:
        db.session.add(
            Campaign(channel="email", name=name, status="draft", created_by_id=manager.id)
        )
    db.session.commit()


def _order(html: str, names: tuple[str, ...]) -> list[str]:
    return sorted((n for n in names if f">{n}<" in html), key=lambda n: html.index(f">{n}<"))


def test_campaigns_sort_and_search(client, login, manager):
    names = ("Autumn Barolo", "Weekly specials", "Chablis arrivals")
    _campaigns(manager, *names)
    login(manager)
    html = client.get("/sales/marketing/campaigns?sort=name").get_data(as_text=True)
    assert _order(html, names) == ["Autumn Barolo", "Chablis arrivals", "Weekly specials"]
    assert 'aria-sort="ascending"' in html
    desc = client.get("/sales/marketing/campaigns?sort=name&dir=desc").get_data(as_text=True)
    assert _order(desc, names) == ["Weekly specials", "Chablis arrivals", "Autumn Barolo"]
    found = client.get("/sales/marketing/campaigns?q=barolo").get_data(as_text=True)
    assert _order(found, names) == ["Autumn Barolo"]
    odd = client.get("/sales/marketing/campaigns?sort=password&dir=sideways")
    assert odd.status_code == 200  # an unknown column falls back to the default


def test_templates_sort_and_search(client, login, manager):
    for name in ("Zinfandel news", "Barolo launch"):
        db.session.add(Template(type="email", name=name, subject=name, html="<p>x</p>"))
    db.session.commit()
    login(manager)
    html = client.get("/sales/marketing/templates?q=barolo").get_data(as_text=True)
    assert "Barolo launch" in html and "Zinfandel news" not in html
    listed = client.get("/sales/marketing/templates?sort=name&dir=desc").get_data(as_text=True)
    assert listed.index("Zinfandel news") < listed.index("Barolo launch")
