"""Domain errors: what a service raises when a request cannot be honoured.

Services stay free of HTTP; the boundary maps these to the API envelope (status, code,
message, fields) or to a flashed message on a page. ``fields`` names the input at fault.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 422
    code = "validation_error"

    def __init__(
        self,
        message: str,
        fields: dict[str, str] | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def text(self) -> str:
        """One line for a person: the field messages, else the message."""
        return "; ".join(self.fields.values()) or self.message


class Invalid(DomainError):
    """Bad input (422)."""


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The input is fine but the state forbids it (409): an opt-out, a running campaign."""

    status = 409
    code = "conflict"


class ProviderFailed(DomainError):
    """A provider the request needed could not be reached or failed (502)."""

    status = 502
    code = "provider_error"


def invalid(fields: dict[str, str], message: str = "Invalid input") -> Invalid:
    """Bad input naming each field at fault."""
    return Invalid(message, fields)


def unknown(what: str = "resource", field: str | None = None) -> DomainError:
    """An unknown id: in the URL a 404; given in a body, a 422 naming its ``field``."""
    if field:
        return Invalid(f"Unknown {what}", {field: f"unknown {what}"})
    return NotFound(f"{what.capitalize()} not found")
