"""Request and response shapes of the lists API (camelCase on the wire)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from app.api.errors import field_path
from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel
from app.errors import Invalid
from blueprints.lists import criteria as cr

MAX_MEMBERS_PER_CALL = 10_000


def _bounded(value: Any) -> Any:
    if value is not None and cr.depth(value) > cr.MAX_DEPTH:
        raise ValueError(f"criteria nest deeper than {cr.MAX_DEPTH} levels")
    return value


def _bounded_raw(value: Any) -> Any:
    """Bounds on the JSON as sent, checked before the criteria are parsed."""
    return cr.check_bounds(value)


class SunsetPolicyIn(CamelModel):
    """How campaigns to the list treat sunset customers: ``default`` (skip those the
    engagement state calls sunset), ``include`` (send to them too) or ``custom`` (skip
    those sent ``minEmails`` emails in ``days`` days with no human touch or order)."""

    mode: Literal["default", "include", "custom"] = "default"
    min_emails: int | None = Field(default=None, ge=1, le=1000)
    #: at most the engagement score's look-back (180 days): older touches are not kept
    days: int | None = Field(default=None, ge=1, le=180)

    @model_validator(mode="after")
    def _custom_needs_thresholds(self) -> SunsetPolicyIn:
        if self.mode == "custom" and (self.min_emails is None or self.days is None):
            raise ValueError("a custom sunset policy needs minEmails and days")
        return self


class ListCreate(CamelModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_smart: bool | None = None
    criteria: cr.Criterion | None = None
    #: the email topic the list is about (``GET /api/topics``); campaigns skip leavers
    topic_id: str | None = Field(default=None, max_length=40)
    #: campaigns to this list and sunset customers (default: skip them)
    sunset_policy: SunsetPolicyIn | None = None

    _depth = field_validator("criteria")(_bounded)
    _size = field_validator("criteria", mode="before")(_bounded_raw)

    @model_validator(mode="after")
    def _smart_needs_criteria(self) -> ListCreate:
        if self.is_smart is None:
            self.is_smart = self.criteria is not None
        if self.is_smart and self.criteria is None:
            raise ValueError("a smart list needs criteria")
        if not self.is_smart and self.criteria is not None:
            raise ValueError("a manual list (isSmart false) takes no criteria")
        return self


class ListPatch(CamelModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    criteria: cr.Criterion | None = None
    #: the email topic (null: none)
    topic_id: str | None = Field(default=None, max_length=40)
    sunset_policy: SunsetPolicyIn | None = None

    _depth = field_validator("criteria")(_bounded)
    _size = field_validator("criteria", mode="before")(_bounded_raw)


class PreviewIn(CamelModel):
    criteria: cr.Criterion

    _depth = field_validator("criteria")(_bounded)
    _size = field_validator("criteria", mode="before")(_bounded_raw)


class MembersIn(CamelModel):
    customer_ids: list[str] | None = Field(default=None, max_length=MAX_MEMBERS_PER_CALL)
    emails: list[str] | None = Field(default=None, max_length=MAX_MEMBERS_PER_CALL)

    @model_validator(mode="after")
    def _one_of(self) -> MembersIn:
        if (self.customer_ids is None) == (self.emails is None):
            raise ValueError("send either customerIds or emails")
        return self


class ImportQuery(CamelModel):
    dry_run: bool = False


class ListQuery(PageQuery):
    smart: bool | None = None


class ListOut(OutModel):
    id: str
    name: str
    description: str | None
    is_smart: bool
    criteria: dict[str, Any] | None
    member_count: int
    refreshed_at: str | None
    owner_id: str
    topic_id: str | None = None
    sunset_policy: dict[str, Any] | None = None


class ListPage(OutModel):
    items: list[ListOut]
    total: int
    page: int
    per_page: int


class MemberOut(OutModel):
    id: str
    name: str
    email: str | None
    territory: str | None


class MemberPage(OutModel):
    items: list[MemberOut]
    total: int
    page: int
    per_page: int


class PreviewOut(OutModel):
    count: int
    sample: list[MemberOut]


class JobRef(OutModel):
    id: str
    status: str


class RefreshOut(OutModel):
    job: JobRef
    list: ListOut


class MembersChangeOut(OutModel):
    changed: int
    list: ListOut


class RejectedRow(OutModel):
    line: int
    email: str
    customer_id: str | None = None
    reason: str


class ImportOut(OutModel):
    dry_run: bool
    rows: int
    matched: int
    added: int
    already_members: int
    rejected: list[RejectedRow]


def parse_body(model: type[CamelModel]) -> Any:
    """Validate the JSON body against ``model`` with the same 422 as spectree routes."""
    from flask import request
    from pydantic import ValidationError

    try:
        return model.model_validate(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise_validation(None, None, exc, None)


def raise_validation(req, resp, error, instance, model_adapter=None) -> None:
    """spectree ``before`` hook: the 422 envelope, with criteria union tags left out.

    Discriminated unions put their tag in the error location (``criteria.all[1].
    no_order_in_days.days``); paths must name fields only (``criteria.all[1].days``).
    """
    if error is None:
        return
    raise Invalid("Invalid input", error_fields(error))


def error_fields(error: Any) -> dict[str, str]:
    """{field path: message} of a pydantic error, union tags left out of the paths."""
    fields: dict[str, str] = {}
    for err in error.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in cr.TAGS)]
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "invalid_criterion":
            loc.append("type")
        fields.setdefault(field_path(loc), message)
    return fields
