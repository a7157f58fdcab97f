"""A provider's batch calls in a process of its own: the delivery engine's sender process.

Why a process: the engine's process claims, renders and records batches; an SDK's own
work on a batch (building and encoding the requests, the HTTP exchange) is Python too, and
on a thread of the same process it held the same GIL, so each slowed the other
(docs/decisions.md, 70). In a sender process it runs on another core.

:class:`SenderProcess` is a :class:`~concurrent.futures.ProcessPoolExecutor` of one
worker, started with ``spawn`` (a fork would copy the engine's database connections and
threads), given the adapter (pickled: adapters whose ``process_safe`` is true pickle as
their settings) and the channel's two steps, ``stage`` (build the requests, no network)
and ``transmit`` (send them, one outcome per row), by reference. :meth:`~SenderProcess.stage`
and :meth:`~SenderProcess.send` queue those steps for a batch; the one worker runs them in
the order asked, so a batch may be staged while the caller still records the one before,
and sent only when the caller says so. Nothing here touches Flask or the database.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from providers.errors import TransientError

Step = Callable[[Any, Any], Any]


class SenderLost(TransientError):
    """The sender process died (killed, out of memory): its batch may or may not have
    reached the provider, and is retried like any batch whose answer was lost."""

    def __init__(self, message: str = "the sender process died") -> None:
        super().__init__(message, code="sender_lost")


class SenderProcess:
    """One process sending one channel's batches through one adapter."""

    def __init__(self, provider: Any, stage: Step, transmit: Step) -> None:
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(provider, stage, transmit),
        )
        self._keys = itertools.count(1)
        self._staging: dict[int, Future[Any]] = {}  # by key, until the batch is sent
        self.broken = False
        self._submit(_ready)  # start the process now, not at the first batch

    def stage(self, prepared: Any) -> int:
        """Queue ``stage`` for a prepared batch; the key to send it by. A staging
        error surfaces when the batch is sent."""
        key = next(self._keys)
        self._staging[key] = self._submit(_stage, key, prepared)
        return key

    def send(self, key: int) -> Future[Sequence[Any]]:
        """Queue ``transmit`` for a staged batch: its outcomes, or the error it raised
        (:class:`SenderLost` when the process died)."""
        staging = self._staging.pop(key, None)
        return self._lost_as_transient(self._submit(_send, key), staging)

    def drop(self, key: int) -> None:
        """Forget a staged batch that is not to be sent."""
        self._staging.pop(key, None)
        if not self.broken:
            self._submit(_drop, key)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _lost_as_transient(
        self, future: Future[Any], staging: Future[Any] | None = None
    ) -> Future[Any]:
        """The future's outcome, with a dead process reported as :class:`SenderLost`
        (and this sender marked broken: the caller starts another), and a batch that
        never reached the process (it would not pickle) failing with that error."""
        result: Future[Any] = Future()

        def settle(done: Future[Any]) -> None:
            if done.cancelled():
                result.set_exception(SenderLost("the sender process was shut down first"))
                return
            error = done.exception()
            if error is not None and staging is not None and staging.done():
                error = staging.exception() or error
            if isinstance(error, BrokenProcessPool):
                self.broken = True
                result.set_exception(SenderLost(f"the sender process died: {error}"))
            elif error is not None:
                result.set_exception(error)
            else:
                result.set_result(done.result())

        future.add_done_callback(settle)
        return result

    def _submit(self, step: Callable[..., Any], *args: Any) -> Future[Any]:
        try:
            return self._pool.submit(step, *args)
        except BrokenProcessPool:
            self.broken = True
            failed: Future[Any] = Future()
            failed.set_exception(SenderLost())
            return failed


# -- in the sender process ---------------------------------------------------------------

_provider: Any = None
_steps: tuple[Step, Step] | None = None
_staged: dict[int, tuple[bool, Any]] = {}


def _start(provider: Any, stage: Step, transmit: Step) -> None:
    global _provider, _steps
    _provider, _steps = provider, (stage, transmit)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """End this process when the engine's dies (a killed worker would otherwise leave it
    waiting for work forever)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _ready() -> None:
    """The first call: it makes the pool start its process at once."""


def _stage(key: int, prepared: Any) -> None:
    assert _steps is not None
    try:
        _staged[key] = (True, _steps[0](_provider, prepared))
    except Exception as exc:  # noqa: BLE001 - raised again when the batch is sent
        _staged[key] = (False, exc)


def _send(key: int) -> Sequence[Any]:
    assert _steps is not None
    if key not in _staged:
        raise LookupError(f"batch {key} was not staged in the sender process")
    staged_ok, staged = _staged.pop(key)
    if not staged_ok:
        raise staged
    return _steps[1](_provider, staged)


def _drop(key: int) -> None:
    _staged.pop(key, None)
