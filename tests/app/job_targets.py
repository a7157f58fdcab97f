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


released = __import__("threading").Event()
started = __import__("threading").Event()


def wait_for_release() -> None:
    """Blocks until the test releases it (proves the caller did not wait for the job)."""
    started.set()
    if not released.wait(timeout=30):
        raise TimeoutError("never released")
    calls.append("released")
