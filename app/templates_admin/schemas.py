"""Request and response shapes of the templates API (camelCase)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.api.pagination import PageQuery
from app.api.spec import CamelModel, OutModel

Scalar = str | int | float | bool | None
#: "html" (the default) or "mjml": ``mjml`` holds the source, compiled to ``html`` on save
Format = Literal["html", "mjml"]


class TemplateQuery(PageQuery):
    type: Literal["email", "sms"] | None = None


class TemplateIn(CamelModel):
    type: Literal["email", "sms"]
    name: str = Field(min_length=1, max_length=120)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)
    format: Format | None = None
    mjml: str | None = Field(default=None, max_length=200_000)


class TemplatePatch(CamelModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)
    format: Format | None = None
    mjml: str | None = Field(default=None, max_length=200_000)


class TemplateOut(OutModel):
    id: str
    type: str
    name: str
    format: Format = "html"
    sanitised: dict[str, Any] | None = Field(
        default=None,
        description="After a save: {removed: [{what, count}]}, what could run or track",
    )
    merge_tags: dict[str, Any] | None = Field(
        default=None,
        description="After a save: Mailchimp merge tags {translated: [{tag, token, count}],"
        " unknown: [{tag, count}]}",
    )


class TemplatePage(OutModel):
    items: list[TemplateOut]
    total: int
    page: int
    per_page: int


class PreviewIn(CamelModel):
    customer_id: str = Field(max_length=40)
    type: Literal["email", "sms"] = "email"
    template_id: str | None = Field(default=None, max_length=40)
    subject: str | None = Field(default=None, max_length=300)
    html: str | None = Field(default=None, max_length=200_000)
    body: str | None = Field(default=None, max_length=2000)
    personalization: dict[str, Scalar] | None = None
    mjml: str | None = Field(default=None, max_length=200_000)


class PreviewOut(OutModel):
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    body: str | None = None
