"""Customer page panels: how channels add to the customer page without the core knowing.

A channel registers a template and a function giving its context for one customer (the
email channel's "Send email" form, the SMS channel's thread and send box...). The core's
customer page includes each panel in order.

A panel's form that a service refused is shown again on the page it came from, with what
was typed and why: the channel's view keeps it with :func:`keep_form` and renders
:func:`app.crm.views.customer_page`; the panel's context takes it back with
:func:`kept_form` instead of a blank form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g


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


def keep_form(panel: str, form: Any) -> None:
    """Show ``form`` (typed values and errors) in ``panel`` on this request's page."""
    g.setdefault("decant_kept_panel_forms", {})[panel] = form


def kept_form(panel: str) -> Any | None:
    """The form :func:`keep_form` kept for ``panel`` in this request, else None."""
    return g.get("decant_kept_panel_forms", {}).get(panel)
