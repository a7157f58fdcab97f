"""``/api/settings/brand`` and ``/api/topics``: the same settings as the page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import Field

from app import brand
from app.api.spec import CamelModel, OutModel, api, responses
from app.auth.access import role_required
from app.messaging import topics

bp = Blueprint("brand_api", __name__, url_prefix="/api")
TAGS = ["settings"]


class BrandIn(CamelModel):
    company_name: str = Field(max_length=400)
    logo_url: str | None = Field(default=None, max_length=4000)
    primary_color: str | None = Field(default=None, max_length=20)
    accent_color: str | None = Field(default=None, max_length=20)


class BrandOut(OutModel):
    company_name: str
    logo_url: str | None
    primary_color: str
    accent_color: str


class TopicIn(CamelModel):
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=600)


class TopicOut(OutModel):
    id: str
    name: str
    description: str | None


class TopicList(OutModel):
    items: list[TopicOut]


def topic_json(topic: topics.Topic) -> dict[str, Any]:
    return {"id": topic.public_id, "name": topic.name, "description": topic.description}


@bp.get("/settings/brand")
@api.validate(resp=responses(HTTP_200=BrandOut), tags=TAGS)
def get_brand() -> dict[str, Any]:
    """The company name, logo URL and colours customers see on public pages."""
    return brand.current().json()


@bp.put("/settings/brand")
@role_required("admin")
@api.validate(json=BrandIn, resp=responses(HTTP_200=BrandOut, HTTP_403=None), tags=TAGS)
def put_brand(json: BrandIn) -> dict[str, Any]:
    """Replace the brand (admins). Colours are ``#rrggbb``; the logo an https URL."""
    return brand.update(
        company_name=json.company_name,
        logo_url=json.logo_url,
        primary_color=json.primary_color,
        accent_color=json.accent_color,
    ).json()


@bp.get("/topics")
@api.validate(resp=responses(HTTP_200=TopicList), tags=TAGS)
def list_topics() -> dict[str, Any]:
    """Email topics a list can be tied to and a customer can leave one by one."""
    return {"items": [topic_json(t) for t in topics.all_topics()]}


@bp.post("/topics")
@role_required("admin")
@api.validate(
    json=TopicIn, resp=responses(HTTP_201=TopicOut, HTTP_403=None, HTTP_409=None), tags=TAGS
)
def create_topic(json: TopicIn) -> tuple[dict[str, Any], int]:
    """Add a topic (admins); 409 when the name is taken."""
    return topic_json(topics.create_topic(json.name, json.description)), 201


@bp.delete("/topics/<topic_id>")
@role_required("admin")
@api.validate(resp=responses(HTTP_204=None, HTTP_403=None, HTTP_404=None), tags=TAGS)
def delete_topic(topic_id: str) -> tuple[str, int]:
    """Remove a topic; lists tied to it are tied to none, its opt-outs go with it."""
    topics.delete_topic(topics.get_topic(topic_id))
    return "", 204
