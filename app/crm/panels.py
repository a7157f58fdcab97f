"""Customer page panels: how channels add to the customer page without the core knowing.

A channel registers a template and a function giving its context for one customer (the
email channel's "Send email" form, the SMS channel's thread and send box...). The core's
customer page includes each panel in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app


@dataclass(frozen=True)
class CustomerPanel:
    name: str
    template: str
    context: Callable[[Any], dict[str, Any]]
    order: int = 50
    column: str = "main"  # main (beside the timeline) | side (under the details card)


def register(app: Flask, panel: CustomerPanel) -> None:
    app.extensions.setdefault("decant_customer_panels", {})[panel.name] = panel


def panels_for(customer: Any) -> list[tuple[CustomerPanel, dict[str, Any]]]:
    panels = current_app.extensions.get("decant_customer_panels", {}).values()
    return [(p, p.context(customer)) for p in sorted(panels, key=lambda p: (p.order, p.name))]
