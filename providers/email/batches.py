"""A campaign batch between the delivery engine and an email adapter.

The engine renders a batch (:class:`PreparedBatch`), then hands it to the adapter in two
steps: :func:`stage` builds and encodes the provider's requests (no network), and
:func:`transmit` sends them and turns the results into one outcome per row. Nothing here
touches Flask or the database, so both steps may run on a worker thread or in a sender
process of their own (:mod:`providers.sender`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from providers.email.base import EmailProvider, OutgoingEmail, SendResult
from providers.errors import PermanentError, ProviderError


@dataclass(frozen=True)
class PreparedBatch:
    """A batch built for the provider: a message per row (None where it could not be
    built, with the error under its index)."""

    messages: list[OutgoingEmail | None]
    problems: dict[int, ProviderError]


@dataclass(frozen=True)
class StagedBatch:
    """A prepared batch with its messages staged by the adapter
    (:meth:`~providers.email.base.EmailProvider.stage_batch`); None when no row could
    be built."""

    prepared: PreparedBatch
    staged: Any


def stage(provider: EmailProvider, batch: PreparedBatch) -> StagedBatch:
    """Build the provider's requests for a prepared batch (no network)."""
    ready = [m for m in batch.messages if m is not None]
    return StagedBatch(batch, provider.stage_batch(ready) if ready else None)


def transmit(provider: EmailProvider, staged: StagedBatch) -> list[Any]:
    """Send a staged batch: one outcome per row (a provider message id or an error)."""
    batch = staged.prepared
    ready = len(batch.messages) - len(batch.problems)
    try:
        results = provider.send_staged(staged.staged) if staged.staged is not None else []
    except PermanentError as exc:  # the request as a whole was refused: every row's outcome
        results = [_whole_batch(exc, ready)] * ready
    outcomes: list[Any] = []
    it = iter(results)
    for index in range(len(batch.messages)):
        if index in batch.problems:
            outcomes.append(batch.problems[index])
            continue
        result = next(it)
        if isinstance(result, SendResult) and result.provider is None:
            result = result.provider_message_id  # a routed result keeps its provider
        outcomes.append(result)
    return outcomes


def _whole_batch(error: PermanentError, size: int) -> PermanentError:
    """A refusal of a whole request, as the outcome of each of its ``size`` messages: one
    that would suppress an address cannot say whose when the request held several."""
    if not error.suppress or size <= 1:
        return error
    return PermanentError(error.message, code=error.code, provider=error.provider)
