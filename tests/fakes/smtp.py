"""An SMTP sink for tests: aiosmtpd on 127.0.0.1, on a free port.

``SmtpSink`` accepts mail, keeps each message in ``.received`` and counts connections.
It can refuse given recipients (550 by default, or a 4xx), ask for credentials, stall
DATA (bounded; released by ``stop()``), drop every open connection (as a server's idle
timeout would) and fail a seeded share of messages with 451 (``failure_rate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import random
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class SmtpMessage:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _Controller(Controller):
    """Binds port 0 and learns the real port before aiosmtpd's start-up probe."""

    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(sink, hostname="127.0.0.1", port=0, **kwargs)
        self.sink = sink

    def factory(self) -> SMTP:
        sink = self.sink

        class CountingSMTP(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sink._opened(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                sink._closed(self)
                super().connection_lost(error)

        return CountingSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """aiosmtpd handler plus its controller; use as a context manager."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        failure_rate: float = 0.0,
        seed: int = 0,
        max_hang: float = 5.0,
    ) -> None:
        self.credentials = credentials
        self.failure_rate = failure_rate
        self.max_hang = max_hang
        self.received: list[SmtpMessage] = []
        self.connections = 0
        self.refused: dict[str, str] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._hangs: list[float] = []
        self._live: set[SMTP] = set()
        self._controller: _Controller | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("SmtpSink is not started")
        return self._controller.port

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpSink:
        kwargs: dict[str, Any] = {}
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = _Controller(self, **kwargs)
        self._controller.start()
        with self._lock:
            self.connections = 0  # forget aiosmtpd's own start-up probe
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.loop.call_soon_threadsafe(self._wake_hangs)
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------

    def refuse(
        self, address: str, reply: str = "550 5.1.1 <{}>: Recipient address rejected"
    ) -> None:
        """Answer RCPT TO ``address`` with ``reply`` (``{}`` becomes the address)."""
        with self._lock:
            self.refused[address.lower()] = reply.format(address)

    def hang_next(self, n: int = 1, seconds: float | None = None) -> None:
        """Stall DATA of the next ``n`` messages, then answer 451 without keeping them."""
        wait = min(seconds if seconds is not None else self.max_hang, self.max_hang)
        with self._lock:
            self._hangs.extend([wait] * n)

    def drop_connections(self) -> None:
        """Close every open client connection from the server side."""
        assert self._controller is not None
        done = threading.Event()

        def close_all() -> None:
            for protocol in list(self._live):
                if protocol.transport is not None:
                    protocol.transport.close()
            done.set()

        self._controller.loop.call_soon_threadsafe(close_all)
        done.wait(5)

    # -- aiosmtpd hooks --------------------------------------------------------------

    def _opened(self, protocol: SMTP) -> None:
        with self._lock:
            self.connections += 1
            self._live.add(protocol)

    def _closed(self, protocol: SMTP) -> None:
        with self._lock:
            self._live.discard(protocol)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.credentials
        )
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        with self._lock:
            refusal = self.refused.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            hang = self._hangs.pop(0) if self._hangs else None
            flaky = bool(self.failure_rate) and self._rng.random() < self.failure_rate
        if hang is not None:
            if self._stopping is None:
                self._stopping = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), hang)
            return "451 4.3.0 Took too long"
        if flaky:
            return "451 4.3.0 Temporary failure, try again"
        content = envelope.original_content or envelope.content or b""
        message = SmtpMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=content if isinstance(content, bytes) else content.encode(),
        )
        with self._lock:
            self.received.append(message)
        return "250 2.0.0 Message accepted for delivery"

    def _wake_hangs(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
