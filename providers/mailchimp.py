"""Mailchimp Marketing adapter: audiences, members, campaigns, reports, OAuth.

Built on the official ``mailchimp-marketing`` SDK, with three things added around it:

* the base URL is an argument (tests and self-hosters point it at a local server);
* every failure becomes one of the errors in :mod:`providers.errors`, including the SDK
  quirk where an answer with an empty body is returned raw and never raises;
* Mailchimp's limit of 10 concurrent connections per key is enforced with one
  process-wide semaphore per credential. Limits across processes (several workers using
  the same key) are the caller's job, e.g. a Redis semaphore or a single queue worker.

Nothing here imports Flask or the database.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import mailchimp_marketing
import requests
from mailchimp_marketing.api_client import ApiClientError

from providers.errors import (
    AuthenticationError,
    NotFoundError,
    PermanentError,
    ProviderError,
    TransientError,
    parse_retry_after,
)

PROVIDER = "mailchimp"
MAX_BATCH = 500
MAX_PAGE = 1000
MAX_CONNECTIONS = 10

AUTHORIZE_URL = "https://login.mailchimp.com/oauth2/authorize"
TOKEN_URL = "https://login.mailchimp.com/oauth2/token"
METADATA_URL = "https://login.mailchimp.com/oauth2/metadata"

MEMBER_STATUSES = frozenset({"subscribed", "unsubscribed", "cleaned", "pending", "transactional"})
# ``cleaned`` is set by Mailchimp only; the API refuses it as a new status.
SETTABLE_STATUSES = MEMBER_STATUSES - {"cleaned"}
WEBHOOK_EVENTS = frozenset(
    {"subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign"}
)
WEBHOOK_SOURCES = frozenset({"user", "admin", "api"})

_DC_RE = re.compile(r"[a-z]{2,}[0-9]+")
_KEY_RE = re.compile(r"([0-9A-Za-z]+)-([a-z]{2,}[0-9]+)")
_OAUTH_AUTH_ERRORS = frozenset({"invalid_client", "invalid_grant", "unauthorized_client"})

T = TypeVar("T")


class InvalidApiKeyError(ValueError):
    """The API key is not ``<key>-<data centre>``; ``field`` names the form field."""

    field = "apiKey"


# --------------------------------------------------------------------------- helpers


def parse_api_key(key: str) -> str:
    """Return the data centre of an API key (``"…-us21"`` -> ``"us21"``).

    Raises :class:`InvalidApiKeyError` (a ``ValueError``) when the key is malformed.
    """
    if not isinstance(key, str) or not key.strip():
        raise InvalidApiKeyError("Mailchimp API key is empty.")
    match = _KEY_RE.fullmatch(key.strip())
    if not match:
        raise InvalidApiKeyError(
            "Mailchimp API key is malformed: expected letters and digits followed by "
            "'-' and the data centre, e.g. '0123456789abcdef0123456789abcdef-us21'."
        )
    return match.group(2)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex digest of the lower-cased address."""
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


def chunked(items: Iterable[T], size: int = MAX_BATCH) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` items, lazily (for :meth:`batch_upsert_members`)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_dc(dc: str) -> str:
    if not isinstance(dc, str) or not _DC_RE.fullmatch(dc):
        raise ValueError(f"invalid Mailchimp data centre {dc!r} (expected e.g. 'us21')")
    return dc


def _decode(body: Any) -> Any:
    """A JSON string becomes its value; anything else is returned unchanged."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip():
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _json_of(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return response.text or None


def _describe(body: Any) -> str:
    """Human message from a Mailchimp problem body or an OAuth error body."""
    body = _decode(body)
    if isinstance(body, dict):
        parts = [str(p) for p in (body.get("title"), body.get("detail")) if p]
        if not parts:
            parts = [str(p) for p in (body.get("error"), body.get("error_description")) if p]
        fields = body.get("errors")
        if isinstance(fields, list) and fields:
            details = "; ".join(
                f"{e.get('field', '')}: {e.get('message', '')}".strip(": ")
                for e in fields[:5]
                if isinstance(e, dict)
            )
            if details:
                parts.append(f"({details})")
        if parts:
            return " ".join([": ".join(parts[:2]), *parts[2:]])
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return ""


def _error_for_status(
    status: int, body: Any, headers: Any = None, *, oauth: bool = False
) -> ProviderError:
    """Map an HTTP error answer to the error contract."""
    detail = _describe(body) or f"HTTP {status} with no body"
    code = str(status)
    if status in (401, 403):
        return AuthenticationError(detail, code=code, provider=PROVIDER)
    if status == 404:
        return NotFoundError(detail, code=code, provider=PROVIDER)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
        return TransientError(detail, code=code, provider=PROVIDER, retry_after=retry_after)
    decoded = _decode(body)
    if oauth and isinstance(decoded, dict) and decoded.get("error") in _OAUTH_AUTH_ERRORS:
        return AuthenticationError(detail, code=code, provider=PROVIDER)
    if isinstance(decoded, dict) and decoded.get("title") == "Member In Compliance State":
        # The address unsubscribed or bounced at Mailchimp: only a re-opt-in can bring it back.
        return PermanentError(
            detail, code=code, provider=PROVIDER, suppress=True, reason="unsubscribe"
        )
    return PermanentError(detail, code=code, provider=PROVIDER)


def _error_for_exception(exc: BaseException) -> ProviderError | None:
    """Map a ``requests`` exception; ``None`` when it is not one."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, requests.Timeout):
        return TransientError(f"timed out: {exc}", code="timeout", provider=PROVIDER)
    if isinstance(
        exc,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
        ),
    ):
        return PermanentError(f"bad request setup: {exc}", code="config", provider=PROVIDER)
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"connection failed: {exc}", code="connection", provider=PROVIDER)
    if isinstance(exc, requests.RequestException):
        return TransientError(f"HTTP failure: {exc}", code="http", provider=PROVIDER)
    return None


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    email: str
    data_center: str


@dataclass(frozen=True)
class Audience:
    id: str
    name: str
    member_count: int
    unsubscribe_count: int = 0
    cleaned_count: int = 0


@dataclass(frozen=True)
class MemberUpsert:
    """One member for :meth:`MailchimpClient.batch_upsert_members`.

    With ``update_existing`` the status overwrites the member's current one: reconcile
    unsubscribes from Mailchimp first (``iter_members(status="unsubscribed")``) so a sync
    never tries to resubscribe someone (Mailchimp rejects that as "compliance state").
    """

    email: str
    status: str = "subscribed"
    merge_fields: dict[str, Any] = field(default_factory=dict)
    email_type: str | None = None
    language: str | None = None

    def to_api(self) -> dict[str, Any]:
        if self.status not in MEMBER_STATUSES:
            raise ValueError(f"invalid member status {self.status!r} for {self.email}")
        body: dict[str, Any] = {"email_address": self.email, "status": self.status}
        if self.merge_fields:
            body["merge_fields"] = dict(self.merge_fields)
        if self.email_type:
            body["email_type"] = self.email_type
        if self.language:
            body["language"] = self.language
        return body


@dataclass
class BatchResult:
    """Counts of one or more batch calls; ``errors`` holds (email, code, message)."""

    new: int = 0
    updated: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            self.new + other.new, self.updated + other.updated, self.errors + other.errors
        )


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    status: str
    merge_fields: dict[str, Any]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class MergeField:
    """An audience field: campaigns use ``*|<tag>|*``, members carry ``merge_fields[tag]``."""

    tag: str
    name: str
    type: str = "text"
    default_value: str = ""


@dataclass(frozen=True)
class Segment:
    id: str
    name: str
    member_count: int = 0


@dataclass
class SegmentChange:
    """What one or more batch segment calls did; ``errors`` holds (emails, message)."""

    added: int = 0
    removed: int = 0
    errors: list[tuple[list[str], str]] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: str
    sends: int
    opens: int
    unique_opens: int
    clicks: int
    unique_clicks: int
    bounces: int
    hard_bounces: int
    unsubscribes: int


@dataclass(frozen=True)
class MemberActivity:
    email: str
    opens: int
    clicks: int
    bounced: bool


# --------------------------------------------------------------------------- client

_SLOTS: dict[str, threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def _slot_for(credential: str) -> threading.BoundedSemaphore:
    """The process-wide semaphore shared by every client using this credential."""
    key = hashlib.sha256(credential.encode("utf-8")).hexdigest()
    with _SLOTS_LOCK:
        slot = _SLOTS.get(key)
        if slot is None:
            slot = _SLOTS[key] = threading.BoundedSemaphore(MAX_CONNECTIONS)
        return slot


class MailchimpClient:
    """Mailchimp Marketing API through the official SDK.

    Give either ``api_key`` (data centre taken from its suffix) or an OAuth
    ``access_token`` with ``server`` (the ``dc`` from :func:`fetch_metadata`).
    ``timeout`` is passed to ``requests`` (seconds, or a (connect, read) pair);
    ``slot_timeout`` bounds the wait for one of the 10 connection slots per key.
    Thread-safe: one instance may be shared by threads.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        server: str | None = None,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = (10.0, 120.0),
        slot_timeout: float = 300.0,
    ) -> None:
        if bool(api_key) == bool(access_token):
            raise ValueError("give exactly one of api_key or access_token")
        config: dict[str, Any] = {"timeout": timeout}
        if api_key:
            dc = parse_api_key(api_key)
            if server and server != dc:
                raise ValueError(f"server {server!r} does not match the key's data centre {dc!r}")
            config["api_key"] = api_key.strip()
            credential = api_key.strip()
        else:
            if not server:
                raise ValueError("an OAuth access_token needs server (the account's dc)")
            dc = _check_dc(server)
            config["access_token"] = access_token
            credential = str(access_token)
        config["server"] = dc
        self.data_center = dc
        self.base_url = (base_url or f"https://{dc}.api.mailchimp.com/3.0").rstrip("/")
        self._slot = _slot_for(credential)
        self._slot_timeout = slot_timeout
        self._local = threading.local()

        self._sdk = mailchimp_marketing.Client()
        self._sdk.set_config(config)
        api_client = self._sdk.api_client
        api_client.host = self.base_url
        # The SDK replaces the word "server" anywhere in the URL with this value; the host
        # is already complete, so switch that rewrite off.
        api_client.server = ""
        self._sdk_request = api_client.request
        api_client.request = self._send

    def __repr__(self) -> str:
        return f"MailchimpClient(data_center={self.data_center!r}, base_url={self.base_url!r})"

    # -- transport ---------------------------------------------------------------

    def _send(
        self, method: str, url: str, query_params: Any = None, headers: Any = None, body: Any = None
    ) -> requests.Response:
        """The SDK's HTTP call, run inside a connection slot; keeps the response."""
        if not self._slot.acquire(timeout=self._slot_timeout):
            raise TransientError(
                f"no free Mailchimp connection slot after {self._slot_timeout}s",
                code="concurrency",
                provider=PROVIDER,
            )
        try:
            response: requests.Response = self._sdk_request(
                method, url, query_params, headers=headers, body=body
            )
        finally:
            self._slot.release()
        self._local.response = response
        return response

    def _call(
        self, fn: Callable[..., Any], *args: Any, expect_body: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """Run one SDK call and return its JSON object, or raise a ProviderError."""
        self._local.response = None
        try:
            result = fn(*args, **kwargs)
        except ApiClientError as err:
            raise self._map_sdk_error(err) from err
        if isinstance(result, requests.Response):
            # SDK quirk: an empty (or unparsable) body comes back raw, whatever the status.
            if result.status_code >= 400:
                raise _error_for_status(result.status_code, _json_of(result), result.headers)
            result = _json_of(result) if expect_body else {}
        if isinstance(result, dict):
            return result
        if not expect_body:
            return {}
        status = getattr(self._local.response, "status_code", None)
        raise PermanentError(
            f"expected a JSON object from Mailchimp, got {type(result).__name__}",
            code=str(status) if status else "bad_response",
            provider=PROVIDER,
        )

    def _map_sdk_error(self, err: ApiClientError) -> BaseException:
        if err.status_code is None:
            mapped = _error_for_exception(err.text) if isinstance(err.text, BaseException) else None
            if mapped is not None:
                return mapped
            if isinstance(err.text, BaseException):
                return err.text  # a programming error inside the SDK call: let it surface
            return PermanentError(str(err.text), code="sdk", provider=PROVIDER)
        response = self._local.response
        headers = response.headers if response is not None else None
        return _error_for_status(int(err.status_code), err.text, headers)

    # -- account -----------------------------------------------------------------

    def ping(self) -> bool:
        """True when the key works (GET /ping); raises otherwise."""
        self._call(self._sdk.ping.get)
        return True

    def account(self) -> Account:
        """Account name, id and e-mail (GET /), plus the data centre in use."""
        body = self._call(self._sdk.root.get_root, fields=["account_id", "account_name", "email"])
        return Account(
            id=str(body.get("account_id", "")),
            name=str(body.get("account_name", "")),
            email=str(body.get("email", "")),
            data_center=self.data_center,
        )

    # -- audiences and members -----------------------------------------------------

    def list_audiences(self) -> list[Audience]:
        """Every audience (list) of the account, paging 1,000 at a time."""
        audiences: list[Audience] = []
        offset = 0
        while True:
            body = self._call(self._sdk.lists.get_all_lists, count=MAX_PAGE, offset=offset)
            page = body.get("lists") or []
            for item in page:
                stats = item.get("stats") or {}
                audiences.append(
                    Audience(
                        id=str(item["id"]),
                        name=str(item.get("name", "")),
                        member_count=int(stats.get("member_count", 0)),
                        unsubscribe_count=int(stats.get("unsubscribe_count", 0)),
                        cleaned_count=int(stats.get("cleaned_count", 0)),
                    )
                )
            offset += len(page)
            if len(page) < MAX_PAGE or offset >= int(body.get("total_items", 0)):
                return audiences

    def batch_upsert_members(
        self, audience_id: str, members: Sequence[MemberUpsert], update_existing: bool = True
    ) -> BatchResult:
        """Add or update up to 500 members in one call (POST /lists/{id}).

        More than 500 raises ValueError: split with :func:`chunked`. Per-member refusals
        come back in ``errors``; they do not raise.
        """
        if len(members) > MAX_BATCH:
            raise ValueError(
                f"{len(members)} members in one batch; Mailchimp takes at most {MAX_BATCH} "
                "(use chunked())"
            )
        if not members:
            return BatchResult()
        payload = {"members": [m.to_api() for m in members], "update_existing": update_existing}
        body = self._call(self._sdk.lists.batch_list_members, audience_id, payload)
        errors = [
            (
                str(e.get("email_address", "")),
                str(e.get("error_code") or "ERROR"),
                str(e.get("error") or e.get("field_message") or ""),
            )
            for e in body.get("errors") or []
        ]
        return BatchResult(
            new=int(body.get("total_created", len(body.get("new_members") or []))),
            updated=int(body.get("total_updated", len(body.get("updated_members") or []))),
            errors=errors,
        )

    def iter_members(
        self, audience_id: str, status: str | None = None, page_size: int = MAX_PAGE
    ) -> Iterator[Member]:
        """Yield members page by page (offset/count), never holding more than one page.

        Offset paging over an audience that changes meanwhile may skip or repeat members.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
        if status is not None and status not in MEMBER_STATUSES | {"archived"}:
            raise ValueError(f"invalid member status {status!r}")
        offset = 0
        while True:
            params: dict[str, Any] = {"count": page_size, "offset": offset}
            if status:
                params["status"] = status
            body = self._call(self._sdk.lists.get_list_members_info, audience_id, **params)
            page = body.get("members") or []
            for item in page:
                yield Member(
                    id=str(item.get("id") or subscriber_hash(item["email_address"])),
                    email=str(item["email_address"]),
                    status=str(item.get("status", "")),
                    merge_fields=dict(item.get("merge_fields") or {}),
                    tags=tuple(str(t.get("name", "")) for t in item.get("tags") or []),
                )
            offset += len(page)
            if len(page) < page_size or offset >= int(body.get("total_items", 0)):
                return

    def update_member_tags(
        self,
        audience_id: str,
        email: str,
        active: Iterable[str] = (),
        inactive: Iterable[str] = (),
    ) -> None:
        """Add ``active`` and remove ``inactive`` tags (POST …/members/{hash}/tags, 204)."""
        tags = [{"name": n, "status": "active"} for n in active]
        tags += [{"name": n, "status": "inactive"} for n in inactive]
        if not tags:
            return
        self._call(
            self._sdk.lists.update_list_member_tags,
            audience_id,
            subscriber_hash(email),
            {"tags": tags, "is_syncing": False},
            expect_body=False,
        )

    def set_member_status(self, audience_id: str, email: str, status: str) -> None:
        """Change one existing member's status (PATCH …/members/{hash})."""
        if status not in SETTABLE_STATUSES:
            raise ValueError(f"cannot set member status {status!r}")
        self._call(
            self._sdk.lists.update_list_member,
            audience_id,
            subscriber_hash(email),
            {"status": status},
        )

    # -- merge fields -------------------------------------------------------------

    def merge_fields(self, audience_id: str) -> list[MergeField]:
        """Every merge field of an audience (GET /lists/{id}/merge-fields)."""
        fields: list[MergeField] = []
        offset = 0
        while True:
            body = self._call(
                self._sdk.lists.get_list_merge_fields, audience_id, count=MAX_PAGE, offset=offset
            )
            page = body.get("merge_fields") or []
            fields += [
                MergeField(
                    tag=str(item.get("tag", "")),
                    name=str(item.get("name", "")),
                    type=str(item.get("type", "text")),
                    default_value=str(item.get("default_value") or ""),
                )
                for item in page
            ]
            offset += len(page)
            if len(page) < MAX_PAGE or offset >= int(body.get("total_items", 0)):
                return fields

    def add_merge_field(self, audience_id: str, spec: MergeField) -> MergeField:
        """Create a merge field (POST /lists/{id}/merge-fields); tags are at most 10
        characters. Members and campaigns may use a tag only once it exists."""
        body = self._call(
            self._sdk.lists.add_list_merge_field,
            audience_id,
            {
                "tag": spec.tag,
                "name": spec.name,
                "type": spec.type,
                "default_value": spec.default_value,
                "required": False,
                "public": False,
            },
        )
        return MergeField(
            tag=str(body.get("tag") or spec.tag),
            name=str(body.get("name") or spec.name),
            type=str(body.get("type") or spec.type),
            default_value=str(body.get("default_value") or ""),
        )

    # -- static segments (tags) -----------------------------------------------------

    def static_segments(self, audience_id: str) -> list[Segment]:
        """The audience's static segments, i.e. its tags (GET …/segments?type=static)."""
        segments: list[Segment] = []
        offset = 0
        while True:
            body = self._call(
                self._sdk.lists.list_segments,
                audience_id,
                type="static",
                count=MAX_PAGE,
                offset=offset,
            )
            page = body.get("segments") or []
            segments += [
                Segment(str(s["id"]), str(s.get("name", "")), int(s.get("member_count", 0)))
                for s in page
            ]
            offset += len(page)
            if len(page) < MAX_PAGE or offset >= int(body.get("total_items", 0)):
                return segments

    def create_static_segment(self, audience_id: str, name: str) -> Segment:
        """Create an empty static segment (POST …/segments); fill it with
        :meth:`update_segment_members`."""
        body = self._call(
            self._sdk.lists.create_segment, audience_id, {"name": name, "static_segment": []}
        )
        if not body.get("id"):
            raise PermanentError("segment created without an id", provider=PROVIDER)
        return Segment(str(body["id"]), str(body.get("name", name)), 0)

    def iter_segment_members(
        self, audience_id: str, segment_id: str, page_size: int = MAX_PAGE
    ) -> Iterator[str]:
        """Yield the addresses in a static segment, whatever their status."""
        offset = 0
        while True:
            body = self._call(
                self._sdk.lists.get_segment_members_list,
                audience_id,
                segment_id,
                count=page_size,
                offset=offset,
                include_unsubscribed=True,
                include_cleaned=True,
                include_transactional=True,
            )
            page = body.get("members") or []
            for item in page:
                yield str(item["email_address"])
            offset += len(page)
            if len(page) < page_size or offset >= int(body.get("total_items", 0)):
                return

    def update_segment_members(
        self,
        audience_id: str,
        segment_id: str,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> SegmentChange:
        """Add and remove up to 500 addresses each (POST …/segments/{id}); addresses that
        are not members of the audience come back in ``errors``, they do not raise."""
        if len(add) > MAX_BATCH or len(remove) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} addresses to add and to remove per call")
        if not add and not remove:
            return SegmentChange()
        body = self._call(
            self._sdk.lists.batch_segment_members,
            {"members_to_add": list(add), "members_to_remove": list(remove)},
            audience_id,
            segment_id,
        )
        return SegmentChange(
            added=int(body.get("total_added", len(body.get("members_added") or []))),
            removed=int(body.get("total_removed", len(body.get("members_removed") or []))),
            errors=[
                ([str(a) for a in e.get("email_addresses") or []], str(e.get("error") or ""))
                for e in body.get("errors") or []
            ],
        )

    # -- campaigns ------------------------------------------------------------------

    def create_campaign(
        self,
        audience_id: str,
        subject: str,
        from_name: str,
        reply_to: str,
        title: str,
        segment_opts: dict[str, Any] | None = None,
    ) -> str:
        """Create a regular campaign draft and return its id."""
        recipients: dict[str, Any] = {"list_id": audience_id}
        if segment_opts:
            recipients["segment_opts"] = segment_opts
        body = self._call(
            self._sdk.campaigns.create,
            {
                "type": "regular",
                "recipients": recipients,
                "settings": {
                    "subject_line": subject,
                    "from_name": from_name,
                    "reply_to": reply_to,
                    "title": title,
                },
            },
        )
        if not body.get("id"):
            raise PermanentError("campaign created without an id", provider=PROVIDER)
        return str(body["id"])

    def campaign_segment_id(self, campaign_id: str) -> str | None:
        """The saved segment a campaign is sent to (GET /campaigns/{id}); None when it
        goes to the whole audience or to conditions."""
        body = self._call(self._sdk.campaigns.get, campaign_id, fields=["id", "recipients"])
        opts = (body.get("recipients") or {}).get("segment_opts") or {}
        saved = opts.get("saved_segment_id")
        return None if saved in (None, "", 0) else str(saved)

    def set_campaign_content(self, campaign_id: str, html: str, text: str | None = None) -> None:
        """Set the HTML (and optional plain-text) body of a draft."""
        content: dict[str, Any] = {"html": html}
        if text is not None:
            content["plain_text"] = text
        self._call(self._sdk.campaigns.set_content, campaign_id, content)

    def send_campaign(self, campaign_id: str) -> None:
        """Send a draft now (POST …/actions/send, 204). Not idempotent: do not blind-retry."""
        self._call(self._sdk.campaigns.send, campaign_id, expect_body=False)

    def schedule_campaign(self, campaign_id: str, when: datetime) -> None:
        """Schedule a draft; ``when`` must be timezone-aware and on a quarter hour."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("schedule time must be timezone-aware")
        when = when.astimezone(UTC)
        if when.minute % 15 or when.second or when.microsecond:
            raise ValueError("Mailchimp schedules on quarter hours only (:00, :15, :30, :45)")
        self._call(
            self._sdk.campaigns.schedule,
            campaign_id,
            {"schedule_time": when.isoformat()},
            expect_body=False,
        )

    def campaign_report(self, campaign_id: str) -> CampaignReport:
        """Totals of a sent campaign (GET /reports/{id})."""
        body = self._call(self._sdk.reports.get_campaign_report, campaign_id)
        opens = body.get("opens") or {}
        clicks = body.get("clicks") or {}
        bounces = body.get("bounces") or {}
        hard = int(bounces.get("hard_bounces", 0))
        return CampaignReport(
            campaign_id=str(body.get("id", campaign_id)),
            sends=int(body.get("emails_sent", 0)),
            opens=int(opens.get("opens_total", 0)),
            unique_opens=int(opens.get("unique_opens", 0)),
            clicks=int(clicks.get("clicks_total", 0)),
            unique_clicks=int(clicks.get("unique_subscriber_clicks", 0)),
            bounces=hard
            + int(bounces.get("soft_bounces", 0))
            + int(bounces.get("syntax_errors", 0)),
            hard_bounces=hard,
            unsubscribes=int(body.get("unsubscribed", 0)),
        )

    def campaign_member_activity(
        self, campaign_id: str, page_size: int = MAX_PAGE
    ) -> Iterator[MemberActivity]:
        """Yield per-recipient opens/clicks/bounce (GET /reports/{id}/email-activity)."""
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE}")
        offset = 0
        while True:
            body = self._call(
                self._sdk.reports.get_email_activity_for_campaign,
                campaign_id,
                count=page_size,
                offset=offset,
            )
            page = body.get("emails") or []
            for item in page:
                actions = [a.get("action") for a in item.get("activity") or []]
                yield MemberActivity(
                    email=str(item.get("email_address", "")),
                    opens=actions.count("open"),
                    clicks=actions.count("click"),
                    bounced="bounce" in actions,
                )
            offset += len(page)
            if len(page) < page_size or offset >= int(body.get("total_items", 0)):
                return

    # -- webhooks -------------------------------------------------------------------

    def create_webhook(
        self,
        audience_id: str,
        url: str,
        events: Iterable[str],
        sources: Iterable[str] = ("user", "admin"),
    ) -> str:
        """Register an audience webhook and return its id.

        Mailchimp does not sign webhooks: put a secret in ``url``. It also validates the
        URL with a GET when creating, so the endpoint must answer 200 to GET. ``sources``
        leaves out ``api`` by default so our own changes do not echo back.
        """
        events = set(events)
        sources = set(sources)
        if not events or events - WEBHOOK_EVENTS:
            raise ValueError(f"webhook events must be among {sorted(WEBHOOK_EVENTS)}")
        if not sources or sources - WEBHOOK_SOURCES:
            raise ValueError(f"webhook sources must be among {sorted(WEBHOOK_SOURCES)}")
        body = self._call(
            self._sdk.lists.create_list_webhook,
            audience_id,
            {
                "url": url,
                "events": {name: name in events for name in sorted(WEBHOOK_EVENTS)},
                "sources": {name: name in sources for name in sorted(WEBHOOK_SOURCES)},
            },
        )
        return str(body.get("id", ""))


# --------------------------------------------------------------------------- OAuth2


def authorize_url(
    client_id: str, redirect_uri: str, state: str, authorize_url: str = AUTHORIZE_URL
) -> str:
    """The URL to send the user to; Mailchimp redirects back with ``code`` and ``state``."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{authorize_url}?{query}"


def _oauth_request(method: str, url: str, timeout: float, **kwargs: Any) -> dict[str, Any]:
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise (_error_for_exception(exc) or TransientError(str(exc), provider=PROVIDER)) from exc
    body = _json_of(response)
    if response.status_code >= 400:
        raise _error_for_status(response.status_code, body, response.headers, oauth=True)
    if not isinstance(body, dict):
        raise PermanentError(
            "expected a JSON object from Mailchimp OAuth",
            code=str(response.status_code),
            provider=PROVIDER,
        )
    return body


def exchange_code(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    token_url: str = TOKEN_URL,
    timeout: float = 30.0,
) -> str:
    """Trade an authorization code for an access token (Mailchimp's never expire)."""
    body = _oauth_request(
        "POST",
        token_url,
        timeout,
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        },
    )
    token = body.get("access_token")
    if not token:
        raise PermanentError("token answer without access_token", provider=PROVIDER)
    return str(token)


def fetch_metadata(
    access_token: str, metadata_url: str = METADATA_URL, timeout: float = 30.0
) -> dict[str, str]:
    """The account behind a token: ``{dc, api_endpoint, accountname}``.

    Build the client with ``server=dc`` and ``base_url=api_endpoint + "/3.0"``.
    """
    body = _oauth_request(
        "GET", metadata_url, timeout, headers={"Authorization": f"OAuth {access_token}"}
    )
    dc = _check_dc(str(body.get("dc", "")))
    return {
        "dc": dc,
        "api_endpoint": str(body.get("api_endpoint") or f"https://{dc}.api.mailchimp.com"),
        "accountname": str(body.get("accountname", "")),
    }


__all__ = [
    "Account",
    "Audience",
    "BatchResult",
    "CampaignReport",
    "InvalidApiKeyError",
    "MailchimpClient",
    "Member",
    "MemberActivity",
    "MemberUpsert",
    "MergeField",
    "Segment",
    "SegmentChange",
    "authorize_url",
    "chunked",
    "exchange_code",
    "fetch_metadata",
    "parse_api_key",
    "subscriber_hash",
]
