"""A local Mailchimp Marketing API (3.0) and OAuth server for tests.

Real HTTP on 127.0.0.1 with in-memory state, so the official SDK runs unmodified against
it. Errors use Mailchimp's problem body (``application/problem+json``). Scriptable faults:
:meth:`FakeMailchimp.fail_next` (429 with Retry-After, 503, empty bodies...) and a seeded
``failure_rate``. ``max_concurrent`` records the most requests in flight at once; it is
decremented before a response is written, so a client never sees it above the number of
connections it really holds.

    with FakeMailchimp(api_key="0123…-us21") as fake:
        client = MailchimpClient(api_key=fake.api_key, base_url=fake.url)
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_KEY = "0123456789abcdef0123456789abcdef-us21"
MEMBER_STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
MERGE_FIELD_TYPES = {
    "text", "number", "address", "phone", "date", "url", "imageurl", "radio", "dropdown",
    "birthday", "zip",
}  # fmt: skip
#: Tags Mailchimp keeps for itself (a few of its documented system merge tags).
RESERVED_MERGE_TAGS = {"EMAIL", "UNSUB", "LIST", "ARCHIVE", "DATE", "UPDATE_PROFILE", "FORWARD"}
PROBLEM_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
Params = dict[str, str]
Reply = tuple[int, Any]


def md5_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class HttpError(Exception):
    """Raised by handlers; becomes a problem+json answer."""

    def __init__(self, status: int, title: str, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


@dataclass
class Failure:
    status: int
    retry_after: str | None = None
    body: bool = True
    path: str | None = None  # only calls whose path contains this


def _default_merge_fields() -> list[dict[str, Any]]:
    """The fields every new audience has (Mailchimp's docs: FNAME, LNAME, ADDRESS, PHONE)."""
    return [
        {"merge_id": i + 1, "tag": tag, "name": name, "type": type_, "default_value": ""}
        for i, (tag, name, type_) in enumerate(
            [
                ("FNAME", "First Name", "text"),
                ("LNAME", "Last Name", "text"),
                ("ADDRESS", "Address", "address"),
                ("PHONE", "Phone Number", "phone"),
            ]
        )
    ]


@dataclass
class FakeAudience:
    id: str
    name: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    merge_fields: list[dict[str, Any]] = field(default_factory=_default_merge_fields)
    #: static segments (tags): id -> {"id", "name", "members": set of subscriber hashes}
    segments: dict[int, dict[str, Any]] = field(default_factory=dict)

    def merge_tags(self) -> dict[str, dict[str, Any]]:
        return {f["tag"]: f for f in self.merge_fields}

    def unknown_merge_fields(self, values: Any) -> list[str]:
        """Tags in ``values`` the audience lacks: Mailchimp refuses such an upsert."""
        if not isinstance(values, dict):
            return []
        known = self.merge_tags()
        return sorted(tag for tag in values if tag not in known)

    def counts(self) -> dict[str, int]:
        statuses = [m["status"] for m in self.members.values()]
        return {
            "member_count": statuses.count("subscribed"),
            "unsubscribe_count": statuses.count("unsubscribed"),
            "cleaned_count": statuses.count("cleaned"),
        }


class FakeMailchimp:
    """In-memory Mailchimp; start/stop or use as a context manager."""

    def __init__(
        self,
        api_key: str = DEFAULT_KEY,
        *,
        dc: str = "us21",
        account_name: str = "Decant Test Wines",
        client_id: str = "client-123",
        client_secret: str = "secret-456",
        delay: float = 0.0,
        failure_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.api_key = api_key
        self.dc = dc
        self.account_name = account_name
        self.client_id = client_id
        self.client_secret = client_secret
        self.delay = delay
        self.failure_rate = failure_rate
        self.access_tokens: set[str] = set()
        self.audiences: dict[str, FakeAudience] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.activity: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.report_overrides: dict[str, dict[str, Any]] = {}
        self.oauth_codes: dict[str, str] = {}  # code -> redirect_uri
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self.batch_calls = 0
        self.batch_members_received = 0
        self.max_concurrent = 0
        self._in_flight = 0
        self._failures: deque[Failure] = deque()
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> FakeMailchimp:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 128
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeMailchimp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        assert self._server is not None, "fake not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.root_url}/3.0"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}/oauth2/token"

    @property
    def metadata_url(self) -> str:
        return f"{self.root_url}/oauth2/metadata"

    # -- scripting -----------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        retry_after: str | None = None,
        body: bool = True,
        path: str | None = None,
    ) -> None:
        """The next ``n`` API calls (those whose path contains ``path``, when given) answer
        ``status`` (with an empty body if not ``body``)."""
        with self._lock:
            self._failures.extend(Failure(status, retry_after, body, path) for _ in range(n))

    def add_audience(self, name: str, audience_id: str | None = None) -> str:
        with self._lock:
            audience_id = audience_id or secrets.token_hex(5)
            self.audiences[audience_id] = FakeAudience(audience_id, name)
            return audience_id

    def add_member(
        self,
        audience_id: str,
        email: str,
        status: str = "subscribed",
        merge_fields: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            member = self._new_member(audience_id, email, status, merge_fields or {})
            member["tags"] = [{"id": i + 1, "name": t} for i, t in enumerate(tags or [])]
            self.audiences[audience_id].members[member["id"]] = member
            return member

    def member(self, audience_id: str, email: str) -> dict[str, Any] | None:
        with self._lock:
            return self.audiences[audience_id].members.get(md5_hash(email))

    def add_activity(
        self, campaign_id: str, email: str, action: str, url: str | None = None, **extra: Any
    ) -> None:
        """Record an ``open``, ``click`` or ``bounce`` (``type="hard"``) for a recipient."""
        with self._lock:
            entry = {"action": action, "timestamp": _now(), "ip": "127.0.0.1", **extra}
            if url:
                entry["url"] = url
            self.activity.setdefault(campaign_id, {}).setdefault(md5_hash(email), []).append(entry)

    def set_report(self, campaign_id: str, **fields: Any) -> None:
        """Override top-level fields of GET /reports/{id} (e.g. ``unsubscribed=3``)."""
        with self._lock:
            self.report_overrides.setdefault(campaign_id, {}).update(fields)

    def issue_code(self, redirect_uri: str) -> str:
        """An authorization code, as if the user had approved the app."""
        with self._lock:
            code = secrets.token_hex(8)
            self.oauth_codes[code] = redirect_uri
            return code

    # -- request plumbing (called by the handler) --------------------------------------

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _next_failure(self, path: str = "") -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path is None or failure.path in path:
                    self._failures.remove(failure)
                    return failure
            if self.failure_rate and self._random.random() < self.failure_rate:
                return Failure(503)
            return None

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                _user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return secrets.compare_digest(password, self.api_key)
        if scheme.lower() == "bearer":
            with self._lock:
                return value in self.access_tokens
        return False

    def _audience(self, audience_id: str) -> FakeAudience:
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        return audience

    def _campaign(self, campaign_id: str) -> dict[str, Any]:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        return campaign

    def _new_member(
        self, audience_id: str, email: str, status: str, merge_fields: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": md5_hash(email),
            "email_address": email,
            "unique_email_id": secrets.token_hex(5),
            "status": status,
            "merge_fields": dict(merge_fields),
            "tags": [],
            "list_id": audience_id,
            "last_changed": _now(),
        }

    @staticmethod
    def _member_json(member: dict[str, Any]) -> dict[str, Any]:
        return {**member, "tags_count": len(member["tags"])}

    # -- API handlers: (method, path regex) -> fn(match, query, body) -> (status, body) ----

    def h_ping(self, m: Params, q: Params, b: Any) -> Reply:
        return 200, {"health_status": "Everything's Chimpy!"}

    def h_root(self, m: Params, q: Params, b: Any) -> Reply:
        return 200, {
            "account_id": "acc0123456789",
            "login_id": "12345",
            "account_name": self.account_name,
            "email": "owner@decant.test",
            "first_name": "Test",
            "last_name": "Owner",
            "total_subscribers": sum(a.counts()["member_count"] for a in self.audiences.values()),
        }

    def _audience_json(self, a: FakeAudience) -> dict[str, Any]:
        return {"id": a.id, "web_id": 1, "name": a.name, "stats": a.counts()}

    def h_lists(self, m: Params, q: Params, b: Any) -> Reply:
        offset, count = _paging(q)
        items = list(self.audiences.values())
        page = items[offset : offset + count]
        return 200, {"lists": [self._audience_json(a) for a in page], "total_items": len(items)}

    def h_list(self, m: Params, q: Params, b: Any) -> Reply:
        return 200, self._audience_json(self._audience(m["list"]))

    def h_batch(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        if not isinstance(b, dict) or not isinstance(b.get("members"), list):
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "members", "message": "Schema describes array"}],
            )
        members = b["members"]
        self.batch_calls += 1
        self.batch_members_received += len(members)
        if len(members) > 500:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "members", "message": "Array has too many items (max 500)"}],
            )
        update = bool(b.get("update_existing"))
        new, updated, errors = [], [], []
        for item in members:
            email = str(item.get("email_address", ""))
            status = item.get("status")
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                errors.append(
                    {
                        "email_address": email,
                        "error_code": "ERROR_GENERIC",
                        "error": f"{email} looks fake or invalid, please enter a real address.",
                        "field": "email_address",
                        "field_message": "invalid",
                    }
                )
                continue
            if status not in MEMBER_STATUSES:
                errors.append(
                    {
                        "email_address": email,
                        "error_code": "ERROR_GENERIC",
                        "error": "Invalid status",
                        "field": "status",
                        "field_message": "",
                    }
                )
                continue
            unknown = audience.unknown_merge_fields(item.get("merge_fields"))
            if unknown:
                errors.append(
                    {
                        "email_address": email,
                        "error_code": "ERROR_GENERIC",
                        "error": "Data did not match any of the schemas described in anyOf.",
                        "field": f"merge_fields.{unknown[0]}",
                        "field_message": "Data did not match any of the schemas described in "
                        "anyOf.",
                    }
                )
                continue
            existing = audience.members.get(md5_hash(email))
            if existing is not None:
                if not update:
                    errors.append(
                        {
                            "email_address": email,
                            "error_code": "ERROR_CONTACT_EXISTS",
                            "error": f"{email} is already a list member.",
                            "field": "",
                            "field_message": "",
                        }
                    )
                    continue
                existing["status"] = status
                existing["merge_fields"].update(item.get("merge_fields") or {})
                existing["last_changed"] = _now()
                updated.append(self._member_json(existing))
            else:
                member = self._new_member(
                    audience.id, email, status, item.get("merge_fields") or {}
                )
                audience.members[member["id"]] = member
                new.append(self._member_json(member))
        return 200, {
            "new_members": new,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

    def h_members(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        offset, count = _paging(q)
        status = q.get("status")
        items = [x for x in audience.members.values() if status is None or x["status"] == status]
        page = items[offset : offset + count]
        return 200, {
            "members": [self._member_json(x) for x in page],
            "list_id": audience.id,
            "total_items": len(items),
        }

    def h_member_get(self, m: Params, q: Params, b: Any) -> Reply:
        member = self._audience(m["list"]).members.get(m["hash"])
        if member is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        return 200, self._member_json(member)

    def h_member_put(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        b = b if isinstance(b, dict) else {}
        email = str(b.get("email_address", ""))
        if md5_hash(email) != m["hash"]:
            raise HttpError(
                400, "Invalid Resource", "The email address does not match the subscriber hash."
            )
        _refuse_unknown_merge_fields(audience, b.get("merge_fields"))
        member = audience.members.get(m["hash"])
        if member is None:
            status = b.get("status_if_new") or b.get("status")
            if status not in MEMBER_STATUSES:
                raise HttpError(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated.",
                    [{"field": "status_if_new", "message": "invalid status"}],
                )
            member = self._new_member(audience.id, email, status, b.get("merge_fields") or {})
            audience.members[member["id"]] = member
        else:
            self._patch_member(member, b)
        return 200, self._member_json(member)

    def h_member_patch(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        member = audience.members.get(m["hash"])
        if member is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        _refuse_unknown_merge_fields(audience, (b or {}).get("merge_fields"))
        self._patch_member(member, b if isinstance(b, dict) else {})
        return 200, self._member_json(member)

    def _patch_member(self, member: dict[str, Any], b: dict[str, Any]) -> None:
        if "status" in b:
            if b["status"] not in MEMBER_STATUSES - {"cleaned"}:
                raise HttpError(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated.",
                    [{"field": "status", "message": "invalid status"}],
                )
            member["status"] = b["status"]
        member["merge_fields"].update(b.get("merge_fields") or {})
        member["last_changed"] = _now()

    def h_tags(self, m: Params, q: Params, b: Any) -> Reply:
        member = self._audience(m["list"]).members.get(m["hash"])
        if member is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        if not isinstance(b, dict) or not isinstance(b.get("tags"), list):
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "tags", "message": "Required property missing"}],
            )
        names = [t["name"] for t in member["tags"]]
        for tag in b["tags"]:
            if tag.get("status") == "active" and tag["name"] not in names:
                names.append(tag["name"])
            elif tag.get("status") == "inactive" and tag["name"] in names:
                names.remove(tag["name"])
        member["tags"] = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
        return 204, None

    def h_webhook(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        url = str((b or {}).get("url", ""))
        if not url.startswith(("http://", "https://")):
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "url", "message": "invalid URL"}],
            )
        hook = {
            "id": secrets.token_hex(5),
            "url": url,
            "events": b.get("events", {}),
            "sources": b.get("sources", {}),
            "list_id": audience.id,
        }
        audience.webhooks.append(hook)
        return 200, hook

    # -- merge fields --------------------------------------------------------------

    def h_merge_fields(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        offset, count = _paging(q)
        items = audience.merge_fields
        return 200, {
            "merge_fields": [{**f, "list_id": audience.id} for f in items[offset : offset + count]],
            "list_id": audience.id,
            "total_items": len(items),
        }

    def h_merge_field_add(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        b = b if isinstance(b, dict) else {}
        name, type_ = str(b.get("name") or ""), b.get("type")
        tag = str(b.get("tag") or "").upper()
        if not name or type_ not in MERGE_FIELD_TYPES:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "name" if not name else "type", "message": "invalid"}],
            )
        if tag and (len(tag) > 10 or not re.fullmatch(r"[A-Z0-9_]+", tag)):
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "tag", "message": "Merge tags are at most 10 characters, A-Z 0-9 _"}],
            )
        if tag in audience.merge_tags() or tag in RESERVED_MERGE_TAGS:
            raise HttpError(
                400,
                "Invalid Resource",
                f'A Merge Field with the tag "{tag}" already exists for this list.',
            )
        merge_id = max((f["merge_id"] for f in audience.merge_fields), default=0) + 1
        field_ = {
            "merge_id": merge_id,
            "tag": tag or f"MMERGE{merge_id}",
            "name": name,
            "type": type_,
            "default_value": str(b.get("default_value") or ""),
        }
        audience.merge_fields.append(field_)
        return 200, {**field_, "list_id": audience.id}

    # -- static segments (tags) ------------------------------------------------------

    def _segment(self, audience: FakeAudience, segment_id: str) -> dict[str, Any]:
        segment = audience.segments.get(int(segment_id)) if segment_id.isdigit() else None
        if segment is None:
            raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")
        return segment

    def _segment_json(self, audience: FakeAudience, segment: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": segment["id"],
            "name": segment["name"],
            "type": "static",
            "member_count": sum(
                1
                for h in segment["members"]
                if audience.members.get(h, {}).get("status") == "subscribed"
            ),
            "list_id": audience.id,
        }

    def h_segments(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        offset, count = _paging(q)
        items = list(audience.segments.values())  # every fake segment is static
        return 200, {
            "segments": [self._segment_json(audience, x) for x in items[offset : offset + count]],
            "list_id": audience.id,
            "total_items": len(items),
        }

    def h_segment_create(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        b = b if isinstance(b, dict) else {}
        name = str(b.get("name") or "")
        if not name or not isinstance(b.get("static_segment"), list):
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "name" if not name else "static_segment", "message": "required"}],
            )
        segment_id = max(audience.segments, default=1000) + 1
        # "Any emails provided that are not present on the list will be ignored."
        members = {md5_hash(e) for e in b["static_segment"] if md5_hash(e) in audience.members}
        audience.segments[segment_id] = {"id": segment_id, "name": name, "members": members}
        return 200, self._segment_json(audience, audience.segments[segment_id])

    def h_segment_batch(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        segment = self._segment(audience, m["sid"])
        b = b if isinstance(b, dict) else {}
        to_add, to_remove = b.get("members_to_add") or [], b.get("members_to_remove") or []
        if len(to_add) > 500 or len(to_remove) > 500:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "members_to_add", "message": "Array has too many items (max 500)"}],
            )
        added, removed, missing = [], [], []
        for email in to_add:
            member = audience.members.get(md5_hash(email))
            if member is None:
                missing.append(email)
            elif member["id"] not in segment["members"]:
                segment["members"].add(member["id"])
                added.append(self._member_json(member))
        for email in to_remove:
            member = audience.members.get(md5_hash(email))
            if member is not None and member["id"] in segment["members"]:
                segment["members"].discard(member["id"])
                removed.append(self._member_json(member))
        errors = (
            [{"email_addresses": missing, "error": "Email addresses do not belong to list"}]
            if missing
            else []
        )
        return 200, {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(missing),
        }

    def h_segment_members(self, m: Params, q: Params, b: Any) -> Reply:
        audience = self._audience(m["list"])
        segment = self._segment(audience, m["sid"])
        offset, count = _paging(q)
        shown = {"subscribed"}
        for status in ("unsubscribed", "cleaned", "transactional"):
            if q.get(f"include_{status}", "").lower() == "true":
                shown.add(status)
        items = [
            audience.members[h]
            for h in sorted(segment["members"])
            if h in audience.members and audience.members[h]["status"] in shown
        ]
        return 200, {
            "members": [self._member_json(x) for x in items[offset : offset + count]],
            "total_items": len(items),
        }

    def h_campaign_create(self, m: Params, q: Params, b: Any) -> Reply:
        b = b if isinstance(b, dict) else {}
        if b.get("type") not in {"regular", "plaintext", "absplit", "rss", "variate"}:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "type", "message": "invalid campaign type"}],
            )
        recipients = b.get("recipients") or {}
        if recipients.get("list_id") not in self.audiences:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "recipients.list_id", "message": "list does not exist"}],
            )
        segment_opts = recipients.get("segment_opts") or {}
        saved = segment_opts.get("saved_segment_id")
        if saved is not None:
            audience = self.audiences[recipients["list_id"]]
            if not isinstance(saved, int) or saved not in audience.segments:
                raise HttpError(
                    400,
                    "Invalid Resource",
                    "The resource submitted could not be validated.",
                    [
                        {
                            "field": "recipients.segment_opts.saved_segment_id",
                            "message": "segment does not exist",
                        }
                    ],
                )
        campaign = {
            "id": secrets.token_hex(5),
            "type": b["type"],
            "status": "save",
            "create_time": _now(),
            "send_time": "",
            "emails_sent": 0,
            "recipients": recipients,
            "settings": b.get("settings") or {},
            "content": {},
            "sent_to": [],
            "deliveries": {},  # email -> the subject and HTML that recipient got
        }
        self.campaigns[campaign["id"]] = campaign
        return 200, {
            k: v for k, v in campaign.items() if k not in ("content", "sent_to", "deliveries")
        }

    def h_campaign_get(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        hidden = ("content", "sent_to", "deliveries")
        return 200, {k: v for k, v in campaign.items() if k not in hidden}

    def h_content(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        b = b if isinstance(b, dict) else {}
        campaign["content"] = {"html": b.get("html", ""), "plain_text": b.get("plain_text", "")}
        return 200, campaign["content"]

    def _ready(self, campaign: dict[str, Any]) -> None:
        if campaign["status"] not in ("save", "paused"):
            raise HttpError(400, "Bad Request", f"Campaign is already {campaign['status']}.")
        if not campaign["content"].get("html"):
            raise HttpError(400, "Bad Request", "Your Campaign is not ready to send.")

    def h_send(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        self._ready(campaign)
        audience = self._audience(campaign["recipients"]["list_id"])
        recipients = [
            x
            for x in audience.members.values()
            if x["status"] == "subscribed" and self._in_segment(audience, campaign, x)
        ]
        subject = str(campaign["settings"].get("subject_line", ""))
        campaign.update(
            status="sent",
            send_time=_now(),
            emails_sent=len(recipients),
            sent_to=[x["id"] for x in recipients],
            deliveries={
                x["email_address"]: {
                    "subject": fill_merge_tags(subject, audience, x),
                    "html": fill_merge_tags(campaign["content"].get("html", ""), audience, x),
                }
                for x in recipients
            },
        )
        return 204, None

    @staticmethod
    def _in_segment(
        audience: FakeAudience, campaign: dict[str, Any], member: dict[str, Any]
    ) -> bool:
        """Whether ``recipients.segment_opts`` selects the member: a saved (static) segment,
        or ``StaticSegment`` conditions (``static_is`` / ``static_not``); none: everyone."""
        opts = campaign["recipients"].get("segment_opts") or {}
        saved = opts.get("saved_segment_id")
        tests = []
        if saved is not None:
            tests.append(member["id"] in audience.segments.get(saved, {}).get("members", set()))
        for cond in opts.get("conditions") or []:
            if cond.get("condition_type") != "StaticSegment":
                raise HttpError(400, "Bad Request", "The fake knows only StaticSegment conditions.")
            inside = member["id"] in audience.segments.get(cond.get("value"), {}).get(
                "members", set()
            )
            tests.append(inside if cond.get("op") == "static_is" else not inside)
        if not tests:
            return True
        return any(tests) if opts.get("match") == "any" else all(tests)

    def h_schedule(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        self._ready(campaign)
        raw = str((b or {}).get("schedule_time", ""))
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise HttpError(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
                [{"field": "schedule_time", "message": "invalid date-time"}],
            )
        if when.minute % 15 or when.second or when <= datetime.now(UTC):
            raise HttpError(
                400, "Bad Request", "Schedule time must be in the future and on the quarter-hour."
            )
        campaign.update(status="schedule", send_time=when.isoformat())
        return 204, None

    def h_report(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        acts = self.activity.get(campaign["id"], {})

        def of(kind: str) -> list[list[dict[str, Any]]]:
            return [[a for a in lst if a["action"] == kind] for lst in acts.values()]

        opens, clicks, bounces = of("open"), of("click"), of("bounce")
        sent = campaign["emails_sent"] or 1
        report = {
            "id": campaign["id"],
            "campaign_title": campaign["settings"].get("title", ""),
            "list_id": campaign["recipients"].get("list_id"),
            "emails_sent": campaign["emails_sent"],
            "abuse_reports": 0,
            "unsubscribed": 0,
            "send_time": campaign["send_time"],
            "bounces": {
                "hard_bounces": sum(1 for x in bounces for a in x if a.get("type") == "hard"),
                "soft_bounces": sum(1 for x in bounces for a in x if a.get("type") != "hard"),
                "syntax_errors": 0,
            },
            "opens": {
                "opens_total": sum(map(len, opens)),
                "unique_opens": sum(1 for x in opens if x),
                "open_rate": sum(1 for x in opens if x) / sent,
            },
            "clicks": {
                "clicks_total": sum(map(len, clicks)),
                "unique_clicks": len({a.get("url") for x in clicks for a in x}),
                "unique_subscriber_clicks": sum(1 for x in clicks if x),
                "click_rate": sum(1 for x in clicks if x) / sent,
            },
        }
        report.update(self.report_overrides.get(campaign["id"], {}))
        return 200, report

    def h_email_activity(self, m: Params, q: Params, b: Any) -> Reply:
        campaign = self._campaign(m["cid"])
        audience = self.audiences.get(campaign["recipients"].get("list_id"))
        acts = self.activity.get(campaign["id"], {})
        offset, count = _paging(q)
        hashes = campaign["sent_to"]
        emails = []
        for h in hashes[offset : offset + count]:
            member = audience.members.get(h) if audience else None
            emails.append(
                {
                    "campaign_id": campaign["id"],
                    "list_id": campaign["recipients"].get("list_id"),
                    "list_is_active": True,
                    "email_id": h,
                    "email_address": member["email_address"] if member else "",
                    "activity": list(acts.get(h, [])),
                }
            )
        return 200, {"emails": emails, "campaign_id": campaign["id"], "total_items": len(hashes)}

    ROUTES: list[tuple[str, re.Pattern[str], str]] = [
        (meth, re.compile(pat), name)
        for meth, pat, name in [
            ("GET", r"/ping", "h_ping"),
            ("GET", r"/?", "h_root"),
            ("GET", r"/lists", "h_lists"),
            ("GET", r"/lists/(?P<list>[^/]+)", "h_list"),
            ("POST", r"/lists/(?P<list>[^/]+)", "h_batch"),
            ("GET", r"/lists/(?P<list>[^/]+)/members", "h_members"),
            ("GET", r"/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})", "h_member_get"),
            ("PUT", r"/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})", "h_member_put"),
            ("PATCH", r"/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})", "h_member_patch"),
            ("POST", r"/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})/tags", "h_tags"),
            ("POST", r"/lists/(?P<list>[^/]+)/webhooks", "h_webhook"),
            ("GET", r"/lists/(?P<list>[^/]+)/merge-fields", "h_merge_fields"),
            ("POST", r"/lists/(?P<list>[^/]+)/merge-fields", "h_merge_field_add"),
            ("GET", r"/lists/(?P<list>[^/]+)/segments", "h_segments"),
            ("POST", r"/lists/(?P<list>[^/]+)/segments", "h_segment_create"),
            ("POST", r"/lists/(?P<list>[^/]+)/segments/(?P<sid>[^/]+)", "h_segment_batch"),
            ("GET", r"/lists/(?P<list>[^/]+)/segments/(?P<sid>[^/]+)/members", "h_segment_members"),
            ("POST", r"/campaigns", "h_campaign_create"),
            ("GET", r"/campaigns/(?P<cid>[^/]+)", "h_campaign_get"),
            ("PUT", r"/campaigns/(?P<cid>[^/]+)/content", "h_content"),
            ("POST", r"/campaigns/(?P<cid>[^/]+)/actions/send", "h_send"),
            ("POST", r"/campaigns/(?P<cid>[^/]+)/actions/schedule", "h_schedule"),
            ("GET", r"/reports/(?P<cid>[^/]+)", "h_report"),
            ("GET", r"/reports/(?P<cid>[^/]+)/email-activity", "h_email_activity"),
        ]
    ]

    def route(self, method: str, path: str) -> tuple[Callable[..., Any], dict[str, str]]:
        allowed = False
        for meth, pattern, name in self.ROUTES:
            match = pattern.fullmatch(path)
            if match:
                if meth == method:
                    return getattr(self, name), match.groupdict()
                allowed = True
        if allowed:
            raise HttpError(405, "Method Not Allowed", f"{method} is not allowed on {path}.")
        raise HttpError(404, "Resource Not Found", "The requested resource could not be found.")

    # -- OAuth -------------------------------------------------------------------------

    def oauth_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "Invalid client"}
        with self._lock:
            redirect = self.oauth_codes.pop(form.get("code", ""), None)
            if (
                form.get("grant_type") != "authorization_code"
                or redirect is None
                or redirect != form.get("redirect_uri")
            ):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid authorization code",
                }
            token = secrets.token_hex(16)
            self.access_tokens.add(token)
        return 200, {"access_token": token, "expires_in": 0, "scope": None}

    def oauth_metadata(self, header: str | None) -> tuple[int, dict[str, Any]]:
        scheme, _, token = (header or "").partition(" ")
        with self._lock:
            ok = scheme == "OAuth" and token in self.access_tokens
        if not ok:
            return 401, {"error": "invalid_token", "error_description": "Invalid token"}
        return 200, {
            "dc": self.dc,
            "role": "owner",
            "accountname": self.account_name,
            "user_id": 12345,
            "login": {"email": "owner@decant.test", "login_id": 12345, "login_name": "owner"},
            "login_url": "https://login.mailchimp.com",
            "api_endpoint": self.root_url,
        }


def _refuse_unknown_merge_fields(audience: FakeAudience, values: Any) -> None:
    unknown = audience.unknown_merge_fields(values)
    if unknown:
        raise HttpError(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated. For field-specific details, see "
            "the 'errors' array.",
            [
                {
                    "field": f"merge_fields.{tag}",
                    "message": "Data did not match any of the schemas described in anyOf.",
                }
                for tag in unknown
            ],
        )


_MERGE_TAG = re.compile(r"\*\|([A-Z0-9_]+)\|\*")
_CONDITIONAL = re.compile(
    r"\*\|IF:([A-Z0-9_]+)\|\*(.*?)(?:\*\|ELSE:\|\*(.*?))?\*\|END:IF\|\*", re.DOTALL
)


def fill_merge_tags(text: str, audience: FakeAudience, member: dict[str, Any]) -> str:
    """What a recipient sees: ``*|IF:TAG|*a*|ELSE:|*b*|END:IF|*`` decided by whether the
    member has a value, ``*|TAG|*`` replaced by the value or the field's default, and
    ``*|UNSUB|*`` by an unsubscribe link. Tags the audience lacks stay as they are, as
    Mailchimp shows them."""
    fields = audience.merge_tags()
    values = member.get("merge_fields") or {}

    def value_of(tag: str) -> str | None:
        if tag == "EMAIL":
            return member["email_address"]
        if tag == "UNSUB":
            return f"https://fake.mailchimp.test/unsubscribe?u={member['id']}"
        if tag not in fields:
            return None
        value = values.get(tag)
        return str(value) if value not in (None, "") else str(fields[tag]["default_value"] or "")

    def conditional(match: re.Match[str]) -> str:
        tag, then, otherwise = match.group(1), match.group(2), match.group(3) or ""
        has = tag in fields and values.get(tag) not in (None, "")
        return then if has else otherwise

    text = _CONDITIONAL.sub(conditional, text)
    return _MERGE_TAG.sub(
        lambda m: (lambda v: m.group(0) if v is None else v)(value_of(m[1])), text
    )


def _paging(query: dict[str, str]) -> tuple[int, int]:
    try:
        offset = max(0, int(query.get("offset", 0)))
        count = int(query.get("count", 10))
    except ValueError as exc:
        raise HttpError(400, "Invalid Resource", "offset and count must be integers.") from exc
    if not 1 <= count <= 1000:
        raise HttpError(400, "Invalid Resource", "count must be between 1 and 1000.")
    return offset, count


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMailchimp
    server_version = "FakeMailchimp/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.fake
        fake._enter()
        self._counted = True
        try:
            self._dispatch(fake, method)
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang
            self._send(
                500,
                {
                    "type": PROBLEM_TYPE,
                    "title": "Fake Error",
                    "status": 500,
                    "detail": repr(exc),
                    "instance": str(uuid.uuid4()),
                },
                "application/problem+json",
            )
        finally:
            if self._counted:
                fake._leave()

    def _dispatch(self, fake: FakeMailchimp, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with fake._lock:
            fake.requests.append((method, self.path))
        if fake.delay:
            time.sleep(fake.delay)

        if parts.path.startswith("/oauth2/"):
            if parts.path == "/oauth2/token" and method == "POST":
                form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                status, body = fake.oauth_token(form)
            elif parts.path == "/oauth2/metadata" and method == "GET":
                status, body = fake.oauth_metadata(self.headers.get("Authorization"))
            else:
                status, body = 404, {"error": "not_found"}
            self._send(status, body)
            return

        if not parts.path.startswith("/3.0"):
            self._problem(HttpError(404, "Resource Not Found", "Unknown API root."))
            return
        if not fake._authorized(self.headers.get("Authorization")):
            self._problem(
                HttpError(
                    401,
                    "API Key Invalid",
                    "Your API key may be invalid, or you've attempted to access the wrong "
                    "datacenter.",
                )
            )
            return
        failure = fake._next_failure(parts.path)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            if not failure.body:
                self._send(failure.status, None, headers=headers)
            else:
                title = "Too Many Requests" if failure.status == 429 else "Service Unavailable"
                self._problem(HttpError(failure.status, title, "Scripted failure."), headers)
            return

        try:
            body_json = json.loads(raw) if raw.strip() else None
        except ValueError:
            self._problem(
                HttpError(
                    400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error."
                )
            )
            return
        try:
            with fake._lock:
                handler, params = fake.route(method, parts.path[len("/3.0") :] or "/")
                status, body = handler(params, query, body_json)
        except HttpError as err:
            self._problem(err)
            return
        self._send(status, body)

    def _problem(self, err: HttpError, headers: dict[str, str] | None = None) -> None:
        body = {
            "type": PROBLEM_TYPE,
            "title": err.title,
            "status": err.status,
            "detail": err.detail,
            "instance": str(uuid.uuid4()),
        }
        if err.errors:
            body["errors"] = err.errors
        self._send(err.status, body, "application/problem+json", headers)

    def _send(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        # Leave the in-flight count before the client can possibly see the answer.
        if self._counted:
            self._counted = False
            self.fake._leave()
        data = b"" if body is None or status == 204 else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
