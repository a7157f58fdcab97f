"""Featured wines: the ``{{ featured_wines }}`` token of an email filled from the catalogue.

The block is chosen by a rule (the newest wines, those on special, or one varietal; N of
them) and written into the campaign's HTML once, when an occurrence's campaign is created,
not per recipient: everyone gets the same wines, and the catalogue is read once. It looks
like the designer's "Wine feature" block (name in the wine colour, vintage, tasting note,
price, a Reserve button). Values are escaped, and their braces too, so a wine's name can
never become a template token when the campaign is rendered for each recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from markupsafe import escape
from sqlalchemy import Select, func, select

from app.crm.models import Sku
from app.errors import Invalid
from app.extensions import db

TOKEN = "featured_wines"
TOKEN_PATTERN = re.compile(r"\{\{\s*featured_wines\s*\}\}")
RULES = ("newest", "on_special", "varietal")
MAX_COUNT = 12


@dataclass(frozen=True)
class FeaturedRule:
    rule: str
    count: int = 3
    varietal: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "count": self.count, "varietal": self.varietal}


def check(data: dict[str, Any] | None) -> FeaturedRule | None:
    """A featured rule from its JSON (``rule``, ``count``, ``varietal``); Invalid naming
    ``featured.<field>``."""
    if not data:
        return None
    rule = data.get("rule")
    if rule not in RULES:
        raise Invalid("bad featured rule", {"featured.rule": f"one of {', '.join(RULES)}"})
    count = data.get("count", 3)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise Invalid("bad featured count", {"featured.count": f"a number from 1 to {MAX_COUNT}"})
    varietal = (data.get("varietal") or "").strip() or None
    if rule == "varietal" and not varietal:
        raise Invalid("varietal required", {"featured.varietal": "name the varietal to feature"})
    if varietal is not None and len(varietal) > 80:
        raise Invalid("varietal too long", {"featured.varietal": "at most 80 characters"})
    return FeaturedRule(rule, count, varietal if rule == "varietal" else None)


def _query(rule: FeaturedRule) -> Select[Sku]:
    stmt = select(Sku).where(Sku.active.is_(True))
    if rule.rule == "on_special":
        stmt = stmt.where(Sku.special_price.is_not(None), Sku.special_price < Sku.price)
        # the best deals first
        return stmt.order_by((Sku.special_price / Sku.price).asc(), Sku.id.desc())
    if rule.rule == "varietal":
        stmt = stmt.where(func.lower(Sku.varietal) == (rule.varietal or "").lower())
    return stmt.order_by(Sku.id.desc())  # newest: the last added to the catalogue


def wines(rule: FeaturedRule) -> list[Sku]:
    return list(db.session.scalars(_query(rule).limit(rule.count)))


def _text(value: Any) -> str:
    """HTML-escaped, with braces as entities: Jinja never sees a wine's text as code."""
    return str(escape(str(value))).replace("{", "&#123;").replace("}", "&#125;")


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _wine_html(sku: Sku) -> str:
    vintage = str(sku.vintage) if sku.vintage else "NV"
    note = " · ".join(p for p in (sku.varietal, sku.producer, sku.region) if p)
    on_special = sku.special_price is not None and sku.special_price < sku.price
    if on_special:
        assert sku.special_price is not None
        price = (
            f'<s style="color:#888888;font-weight:normal;">{_money(sku.price)}</s> '
            f"{_money(sku.special_price)}"
        )
    else:
        price = _money(sku.price)
    reserve = "mailto:?subject=" + quote(f"Reserve {sku.name} {vintage}")
    return (
        '<tr><td class="wine-feature" style="padding:16px;background:#ffffff;">'
        f'<p style="margin:0;font-size:20px;font-weight:bold;color:#722f37;">{_text(sku.name)}</p>'
        f'<p style="margin:4px 0;font-size:14px;color:#555555;">Vintage {_text(vintage)}</p>'
        + (f'<p style="margin:4px 0;">{_text(note)}</p>' if note else "")
        + f'<p style="margin:4px 0;font-size:18px;font-weight:bold;">{price}</p>'
        f'<p style="margin:8px 0 0;"><a href="{_text(reserve)}" style="display:inline-block;'
        "padding:8px 16px;background:#722f37;color:#ffffff;text-decoration:none;"
        'border-radius:3px;">Reserve</a></p></td></tr>'
    )


def block_html(skus: list[Sku]) -> str:
    """The wines as a table of "Wine feature" rows (empty for no wines)."""
    if not skus:
        return ""
    rows = "".join(_wine_html(s) for s in skus)
    return (
        '<table role="presentation" class="featured-wines" width="100%" cellpadding="0" '
        f'cellspacing="0" style="border-collapse:collapse;">{rows}</table>'
    )


def uses_token(html: str | None) -> bool:
    return bool(html and TOKEN_PATTERN.search(html))


def fill(html: str, skus: list[Sku]) -> str:
    """``html`` with every ``{{ featured_wines }}`` replaced by the wines' block."""
    block = block_html(skus)
    return TOKEN_PATTERN.sub(lambda _m: block, html)
