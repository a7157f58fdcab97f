"""Put what a service refused back on the browser form that asked, field by field.

Pages re-render a refused form with what was typed and each field's message beside it
(``app/templates/_form_errors.html`` shows them); a redirect would lose both. Services
name fields as the API does (``templateId``); forms name them in snake case.
"""

from __future__ import annotations

import re

from flask_wtf import FlaskForm

from app.errors import DomainError

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def form_field_name(api_field: str) -> str:
    """``templateId`` → ``template_id``; a nested path keeps its first part."""
    return _CAMEL.sub("_", api_field.split(".", 1)[0]).lower()


def add_error(form: FlaskForm, field: str | None, message: str) -> None:
    """Show ``message`` beside ``field`` when the form has it, else above the form."""
    target = form._fields.get(field) if field else None  # noqa: SLF001 - WTForms' field map
    if target is not None and field != "csrf_token":
        target.errors = [*target.errors, message]
    else:
        form.form_errors.append(f"{field}: {message}" if field else message)


def add_api_error(form: FlaskForm, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """The service's refusal on the form: each named field beside its input, others and a
    bare message above the form. ``aliases`` maps service names the form calls otherwise."""
    if not exc.fields:
        add_error(form, None, exc.message)
        return
    for api_field, message in exc.fields.items():
        name = (aliases or {}).get(api_field) or form_field_name(api_field)
        if name in form._fields and name != "csrf_token":  # noqa: SLF001
            add_error(form, name, message)
        else:
            add_error(form, api_field, message)
