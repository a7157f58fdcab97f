"""Job functions for the jobs tests (importable by a worker process)."""

from __future__ import annotations

from app.crm.services import log_activity

calls: list[str] = []


def note(customer_id: int, text: str) -> None:
    log_activity(customer_id, "Note", body=text)


def remember(text: str) -> None:
    calls.append(text)


def explode() -> None:
    raise RuntimeError("job went wrong")
