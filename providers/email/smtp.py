"""SMTP adapter on the standard library's ``smtplib``, one reused connection.

The connection is opened on first use and kept across sends and batches until
:meth:`SmtpEmailProvider.close`; a connection the server dropped meanwhile is reopened
once. A lock makes one provider safe to share between threads, but calls then take
turns: give each worker thread its own provider for parallel sending.

Messages are built by hand as MIME bytes (multipart/alternative, text then HTML, 7bit
when the body is ASCII with short lines, else quoted-printable, RFC 2047 headers), which
costs a small fraction of what :class:`email.message.EmailMessage` generation costs; the
rare non-ASCII address falls back to ``EmailMessage`` with SMTPUTF8. Metadata travels as
``X-Decant-<key>`` headers.

Errors: a recipient refused with 5xx -> ``PermanentError(suppress=True,
reason="bounce")``; sender or data refused with 5xx -> ``PermanentError``; any 4xx,
disconnects, timeouts and connection errors -> ``TransientError`` (the connection is
dropped and reopened on the next send); refused credentials -> ``AuthenticationError``.
"""

from __future__ import annotations

import binascii
import secrets
import smtplib
import ssl
import threading
import uuid
from collections.abc import Callable, Sequence
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTPUTF8
from email.utils import formataddr, formatdate
from typing import TypeVar

from providers.email.base import (
    BatchOutcome,
    EmailProvider,
    OutgoingEmail,
    SendResult,
    sequential_batch,
)
from providers.errors import AuthenticationError, PermanentError, TransientError

METADATA_HEADER_PREFIX = "X-Decant-"
#: the longest line 7bit may carry (RFC 5322: 998 characters before CRLF)
_MAX_LINE = 998
_T = TypeVar("_T")


class SmtpEmailProvider(EmailProvider):
    """Sends over one SMTP connection; ``starttls`` upgrades it, ``use_ssl`` is port 465."""

    name = "smtp"
    #: SMTP takes one message at a time, so a batch bounds only what a campaign claims,
    #: renders and records together: at 100 that per-batch work (claim, commits, the
    #: outcomes' UPDATE) was about a fifth of the engine's own CPU a message
    max_batch_size = 500

    def __init__(
        self,
        host: str,
        port: int = 587,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------

    def send(self, message: OutgoingEmail) -> SendResult:
        with self._lock:
            return self._send_locked(message)

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        self.check_batch_size(messages)
        with self._lock:
            # A refusal that left the connection open (4xx to RCPT or DATA) concerns
            # that message only; a lost connection ends the batch.
            return sequential_batch(
                self._send_locked, messages, stops_batch=lambda exc: self._smtp is None
            )

    def close(self) -> None:
        with self._lock:
            self._drop(polite=True)

    # -- sending -----------------------------------------------------------------------

    def _send_locked(self, message: OutgoingEmail) -> SendResult:
        message_id = f"<{uuid.uuid4().hex}@{_domain(message.from_email)}>"
        if _ascii_addresses(message):
            data: bytes = build_mime(message, message_id)
            options: tuple[str, ...] = ()
        else:
            data = _build_smtputf8(message, message_id)
            options = ("SMTPUTF8",)
        self._with_connection(
            lambda smtp: smtp.sendmail(message.from_email, [message.to], data, options)
        )
        return SendResult(message_id)

    def _with_connection(self, action: Callable[[smtplib.SMTP], _T]) -> _T:
        """Run ``action`` on the open connection, reopening it once if it had gone stale."""
        for attempt in range(2):
            fresh = self._smtp is None
            try:
                return action(self._connection())
            except smtplib.SMTPServerDisconnected as exc:
                self._drop(polite=False)
                # smtplib reports a read timeout as a disconnect: do not wait twice.
                if fresh or attempt or isinstance(exc.__context__, TimeoutError):
                    raise TransientError(
                        f"server closed the connection: {exc}",
                        code="disconnected",
                        provider="smtp",
                    ) from exc
            except smtplib.SMTPAuthenticationError as exc:
                self._drop(polite=False)
                raise AuthenticationError(
                    _reply_text(exc), code=str(exc.smtp_code), provider="smtp"
                ) from exc
            except smtplib.SMTPException as exc:
                raise self._map(exc) from exc
            except OSError as exc:  # timeouts, refused or reset connections, TLS failures
                self._drop(polite=False)
                raise TransientError(
                    f"connection failed: {exc}", code=type(exc).__name__, provider="smtp"
                ) from exc
        raise AssertionError("unreachable")

    def _map(self, exc: smtplib.SMTPException) -> Exception:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            code, reply = next(iter(exc.recipients.values()), (451, b""))
            text = _decode(reply)
            if code >= 500:
                return PermanentError(
                    text, code=str(code), provider="smtp", suppress=True, reason="bounce"
                )
            return TransientError(text, code=str(code), provider="smtp")
        if isinstance(exc, smtplib.SMTPResponseException):
            code = int(exc.smtp_code)
            if code == 421:  # the server is closing the connection
                self._drop(polite=False)
            if code < 500:
                return TransientError(_reply_text(exc), code=str(code), provider="smtp")
            return PermanentError(_reply_text(exc), code=str(code), provider="smtp")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            self._drop(polite=False)
            return PermanentError(str(exc), code="NotSupported", provider="smtp")
        self._drop(polite=False)
        return TransientError(str(exc), code=type(exc).__name__, provider="smtp")

    # -- connection --------------------------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._open()
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            _close_quietly(smtp, polite=False)
            raise
        return smtp

    def _drop(self, *, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close_quietly(smtp, polite=polite)


def _close_quietly(smtp: smtplib.SMTP, *, polite: bool) -> None:
    try:
        if polite:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


# -- building messages ----------------------------------------------------------------


def build_mime(message: OutgoingEmail, message_id: str) -> bytes:
    """The message as RFC 5322 bytes with CRLF line ends, ready for ``sendmail``."""
    sender = formataddr((message.from_name, message.from_email)) if message.from_name else None
    lines = [
        f"From: {sender or message.from_email}",
        f"To: {message.to}",
        _header("Subject", message.subject),
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if message.reply_to:
        lines.append(f"Reply-To: {message.reply_to}")
    lines.extend(_header(name, value) for name, value in message.headers.items())
    lines.extend(
        f"{METADATA_HEADER_PREFIX}{key}: {value}" for key, value in message.metadata.items()
    )
    parts = [(s, b) for s, b in (("plain", message.text), ("html", message.html)) if b]
    if not parts:
        parts = [("plain", "")]
    head = "\r\n".join(lines).encode("ascii")
    if len(parts) == 1:
        subtype, body = parts[0]
        return head + b"\r\n" + _part(subtype, body)
    encoded = [_part(subtype, body) for subtype, body in parts]
    boundary = _boundary(encoded)
    out = [
        head,
        f'\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
    ]
    for part in encoded:
        out.append(f"--{boundary}\r\n".encode("ascii"))
        out.append(part)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def _part(subtype: str, body: str) -> bytes:
    """Part headers, blank line and the encoded body, CRLF throughout."""
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    if _fits_7bit(body):
        cte, data = "7bit", body.encode("ascii")
    else:
        # Given LF only, b2a_qp writes LF for hard and soft line breaks alike.
        cte, data = "quoted-printable", binascii.b2a_qp(body.encode("utf-8"), istext=True)
    data = data.replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    )
    return head.encode("ascii") + data


def _fits_7bit(body: str) -> bool:
    """ASCII without control characters (tabs and line ends aside), no line over 998.

    Built from C string methods: a regular expression for the long lines tried a match
    of up to 999 characters at every position (~40 us for a 500-character text part)."""
    return (
        body.isascii()
        and body.replace("\n", " ").replace("\t", " ").isprintable()
        and (len(body) <= _MAX_LINE or max(map(len, body.split("\n"))) <= _MAX_LINE)
    )


def _boundary(parts: Sequence[bytes]) -> str:
    while True:
        boundary = f"=_{secrets.token_hex(16)}"
        # "=_" never occurs in quoted-printable; 7bit parts are checked.
        if not any(boundary.encode("ascii") in part for part in parts):
            return boundary


def _header(name: str, value: str) -> str:
    """``Name: value``; non-ASCII as RFC 2047 words, long ASCII folded at whitespace."""
    if value.isascii():
        if len(value) + len(name) < 990:
            return f"{name}: {value}"
        return f"{name}: " + Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _ascii_addresses(message: OutgoingEmail) -> bool:
    return (
        message.to.isascii()
        and message.from_email.isascii()
        and (message.reply_to is None or message.reply_to.isascii())
    )


def _build_smtputf8(message: OutgoingEmail, message_id: str) -> bytes:
    msg = EmailMessage(policy=SMTPUTF8)
    msg["From"] = (
        formataddr((message.from_name, message.from_email), charset="utf-8")
        if message.from_name
        else message.from_email
    )
    msg["To"] = message.to
    msg["Subject"] = message.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    if message.reply_to:
        msg["Reply-To"] = message.reply_to
    for name, value in message.headers.items():
        msg[name] = value
    for key, value in message.metadata.items():
        msg[f"{METADATA_HEADER_PREFIX}{key}"] = value
    msg.set_content(message.text or "")
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    return msg.as_bytes()


def _domain(address: str) -> str:
    domain = address.rpartition("@")[2]
    return domain if domain and domain.isascii() else "localhost"


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _reply_text(exc: smtplib.SMTPResponseException) -> str:
    return _decode(exc.smtp_error) or f"SMTP {exc.smtp_code}"
