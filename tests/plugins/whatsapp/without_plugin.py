"""Launcher: run Decant with the decant-whatsapp distribution hidden, as if never installed.

A finder replaces Python's PathFinder on ``sys.meta_path``: it refuses to import
``decant_whatsapp`` and leaves its distribution out of ``importlib.metadata`` (so the
``decant.channels`` entry point is gone too). Then it builds a fresh database with the
migrations (``heads``), and uses the API: a list, an email, a text, an SMS campaign.
Prints one JSON line with what it saw. Usage: python without_plugin.py DB_PATH
"""

from __future__ import annotations

import importlib.machinery
import json
import sys

HIDDEN_MODULE = "decant_whatsapp"
HIDDEN_DIST = "decant-whatsapp"
_path_finder = importlib.machinery.PathFinder


class WithoutWhatsApp:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == HIDDEN_MODULE:
            return None
        return _path_finder.find_spec(name, path, target)

    @staticmethod
    def find_distributions(*args, **kwargs):
        for dist in _path_finder.find_distributions(*args, **kwargs):
            if (dist.metadata["Name"] or "").lower() != HIDDEN_DIST:
                yield dist

    @staticmethod
    def invalidate_caches():
        _path_finder.invalidate_caches()


class RefuseWhatsApp:
    """First on ``sys.meta_path``: an editable install (``pip install -e``, as ``make
    install`` does) adds a finder of its own after PathFinder, which must not find it
    either."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] == HIDDEN_MODULE:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path[sys.meta_path.index(_path_finder)] = WithoutWhatsApp
sys.meta_path.insert(0, RefuseWhatsApp)


def main(db_path: str) -> dict:
    from importlib.metadata import entry_points

    from flask_migrate import upgrade

    from app import create_app
    from app.auth.services import create_user, issue_token
    from app.crm.models import Activity, Customer, Territory
    from app.extensions import db
    from app.messaging.consent import record

    seen: dict = {"entry_points": sorted(ep.name for ep in entry_points(group="decant.channels"))}
    try:
        import decant_whatsapp  # noqa: F401
    except ImportError:
        seen["importable"] = False
    else:
        seen["importable"] = True
    app = create_app(
        {
            "DECANT_ENV": "testing",
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "EMAIL_PROVIDER": "console",
            "SMS_PROVIDER": "console",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        upgrade(revision="heads")
        seen["channels"] = sorted(app.extensions["decant_channels"])
        seen["tables"] = sorted(t for t in db.metadata.tables if t.startswith("whatsapp"))
        north = Territory(name="North")
        db.session.add(north)
        db.session.commit()
        user = create_user("m@decant.example", "Manager", "manager", "pw-pw-pw-pw-pw", None)
        customer = Customer(
            name="Ann",
            email="ann@shop.example",
            phone="+12125550301",
            account_type="ACTIVE",
            account_priority="HIGH",
            territory=north,
        )
        db.session.add(customer)
        db.session.commit()
        record("sms", customer.phone, "opted_in", source="test", customer_id=customer.id)
        db.session.commit()
        headers = {"Authorization": f"Bearer {issue_token(user)}"}
        client = app.test_client()
        base = "/api/sales/marketing"
        lst = client.post(f"{base}/lists", json={"name": "L"}, headers=headers).get_json()
        client.post(
            f"{base}/lists/{lst['id']}/members",
            json={"customerIds": [customer.public_id]},
            headers=headers,
        )
        email = {"customerId": customer.public_id, "subject": "Hi", "html": "<p>Hello</p>"}
        sms = {"customerId": customer.public_id, "body": "Hello by text"}
        seen["email"] = client.post(f"{base}/email/send", json=email, headers=headers).status_code
        seen["sms"] = client.post(f"{base}/sms/send", json=sms, headers=headers).status_code
        campaign = {"listId": lst["id"], "body": "To the list"}
        r = client.post(f"{base}/sms/send", json=campaign, headers=headers)
        seen["sms_campaign"] = [r.status_code, r.get_json().get("status")]
        seen["whatsapp_api"] = client.post(
            f"{base}/whatsapp/send", json={}, headers=headers
        ).status_code
        seen["activities"] = sorted(db.session.scalars(db.select(Activity.type)))
        seen["page"] = client.get("/login").status_code
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
