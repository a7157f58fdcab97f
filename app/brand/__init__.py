"""The distributor's brand on customer-facing pages, and the email topics people choose.

Admins edit both on ``/settings/brand`` (and ``/api/settings/brand``, ``/api/topics``);
the unsubscribe and preference pages read :func:`current` through the ``brand`` template
global.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, make_response, render_template

from app.brand.models import Brand
from app.errors import Invalid
from app.extensions import db
from app.security import CSP

#: Customer pages may show the brand's logo from the company's own site (any https host).
PUBLIC_PAGE_CSP = CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PRIMARY = "#7b2340"
DEFAULT_ACCENT = "#5b1a2e"


@dataclass(frozen=True)
class BrandView:
    """What a page needs; defaults when nothing is stored yet."""

    company_name: str
    logo_url: str | None
    primary_color: str
    accent_color: str

    @property
    def on_primary(self) -> str:
        """Text colour readable on the main colour (WCAG contrast, black or white)."""
        return readable_on(self.primary_color)

    @property
    def on_accent(self) -> str:
        return readable_on(self.accent_color)

    def json(self) -> dict[str, Any]:
        return {
            "companyName": self.company_name,
            "logoUrl": self.logo_url,
            "primaryColor": self.primary_color,
            "accentColor": self.accent_color,
        }


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def readable_on(colour: str) -> str:
    """White or near-black, whichever contrasts more with ``colour`` (#rrggbb)."""
    light = _luminance(colour)
    white = 1.05 / (light + 0.05)
    dark = (light + 0.05) / (_luminance("#212529") + 0.05)
    return "#ffffff" if white >= dark else "#212529"


def current() -> BrandView:
    row = db.session.get(Brand, 1)
    if row is None:
        return BrandView("Decant", None, DEFAULT_PRIMARY, DEFAULT_ACCENT)
    return BrandView(row.company_name, row.logo_url, row.primary_color, row.accent_color)


def update(
    *,
    company_name: str | None,
    logo_url: str | None,
    primary_color: str | None,
    accent_color: str | None,
) -> BrandView:
    """Check every field (a 422 naming each bad one, nothing written) and save."""
    errors: dict[str, str] = {}
    name = " ".join((company_name or "").split())
    if not name:
        errors["companyName"] = "give the company's name"
    elif len(name) > 200:
        errors["companyName"] = "at most 200 characters"
    logo = (logo_url or "").strip() or None
    if logo and not logo.lower().startswith("https://"):
        errors["logoUrl"] = "an https:// address of an image (customers' browsers load it)"
    elif logo and len(logo) > 2000:
        errors["logoUrl"] = "at most 2000 characters"
    colours = {}
    for field, value, default in (
        ("primaryColor", primary_color, DEFAULT_PRIMARY),
        ("accentColor", accent_color, DEFAULT_ACCENT),
    ):
        colour = (value or "").strip() or default
        if not HEX_COLOUR.match(colour):
            errors[field] = "a colour as #rrggbb, e.g. #7b2340"
        colours[field] = colour.lower()
    if errors:
        raise Invalid("the brand settings are not valid", errors)
    row = db.session.get(Brand, 1) or Brand(id=1)
    row.company_name = name
    row.logo_url = logo
    row.primary_color = colours["primaryColor"]
    row.accent_color = colours["accentColor"]
    db.session.add(row)
    db.session.commit()
    return current()


def public_page(template: str, status: int = 200, **context: Any) -> Response:
    """A customer-facing page in the brand (its logo may come from another https host)."""
    response = make_response(render_template(template, brand=current(), **context), status)
    response.headers["Content-Security-Policy"] = PUBLIC_PAGE_CSP
    return response


def init_app(app: Flask) -> None:
    from app.brand import api, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.add_template_global(current, "current_brand")
