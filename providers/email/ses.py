"""Amazon SES adapter, built on boto3's ``sesv2`` client (SendEmail, Content.Simple).

One SendEmail call per message: ``max_batch_size`` defaults to 1 so the delivery
engine's rate limit counts API calls; a larger value makes :meth:`send_batch` loop.
Headers (List-Unsubscribe...) go in ``Content.Simple.Headers``, metadata in
``EmailTags`` (echoed in ``mail.tags`` of SES events), and ``configuration_set`` names
the configuration set that publishes events. botocore's own retries are off by default
(``max_attempts=1``): the delivery engine owns retries and their pacing.
``Content.Simple.Headers`` needs botocore/boto3 >= 1.34.56.

Errors (``ClientError`` code): TooManyRequestsException, Throttling,
LimitExceededException, 429 and 5xx -> ``TransientError``; auth codes
(UnrecognizedClientException, InvalidClientTokenId, SignatureDoesNotMatch, AccessDenied,
...) -> ``AuthenticationError``; MessageRejected, InvalidParameterValue and
BadRequestException -> ``PermanentError``, with ``suppress=True, reason="bounce"`` only
when the message is about the recipient address; ``MessageRejected`` "Email address is
not verified" is the account's state, never a bounce: the sandbox refusing a recipient
that is not a verified identity -> ``PermanentError`` for that message (not
suppressed), an unverified sender -> ``AccountError``. AccountSuspended, SendingPaused
and MailFromDomainNotVerified -> ``AccountError`` (nothing goes until the account is
fixed). Timeouts and connection errors -> ``TransientError``; missing credentials ->
``AuthenticationError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from email.utils import formataddr
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from providers.email.base import (
    BatchOutcome,
    EmailProvider,
    OutgoingEmail,
    SendResult,
    retry_after_seconds,
    sequential_batch,
)
from providers.errors import (
    AccountError,
    AuthenticationError,
    PermanentError,
    ProviderError,
    TransientError,
)

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "LimitExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "RequestTimeout",
    }
)
AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
REJECT_CODES = frozenset({"MessageRejected", "InvalidParameterValue", "BadRequestException"})
#: The account or its sending is stopped (SES v2 names, and SES v1's for the same states).
ACCOUNT_CODES = frozenset(
    {
        "AccountSuspendedException",
        "SendingPausedException",
        "MailFromDomainNotVerifiedException",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
        "MailFromDomainNotVerified",
    }
)
_NOT_VERIFIED = re.compile(r"\bnot verified\b", re.IGNORECASE)
_ADDRESS_WORDS = re.compile(
    r"address|recipient|mailbox|domain|blacklist|suppress|destination|@", re.IGNORECASE
)
_SENDER_WORDS = re.compile(r"not verified|identity|\bsource\b|\bsender\b|\bfrom\b", re.IGNORECASE)


class SesEmailProvider(EmailProvider):
    """Sends through SES v2 SendEmail; ``endpoint_url`` points it elsewhere (tests)."""

    name = "ses"

    def __init__(
        self,
        *,
        region: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        endpoint_url: str | None = None,
        configuration_set: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 1,
        max_batch_size: int = 1,
    ) -> None:
        session = boto3.session.Session()
        self.client = session.client(
            "sesv2",
            region_name=region,
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=timeout,
                read_timeout=timeout,
            ),
        )
        self.configuration_set = configuration_set
        self.max_batch_size = max_batch_size

    def send(self, message: OutgoingEmail) -> SendResult:
        try:
            answer = self.client.send_email(**self._params(message))
        except ClientError as exc:
            raise _classify(exc, message) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise AuthenticationError(str(exc), code=type(exc).__name__, provider="ses") from exc
        except BotoCoreError as exc:  # endpoint unreachable, timeouts, closed connections
            raise TransientError(str(exc), code=type(exc).__name__, provider="ses") from exc
        return SendResult(answer.get("MessageId"))

    def send_batch(self, messages: Sequence[OutgoingEmail]) -> BatchOutcome:
        self.check_batch_size(messages)
        return sequential_batch(self.send, messages)

    def close(self) -> None:
        self.client.close()

    def _params(self, message: OutgoingEmail) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if message.text:
            body["Text"] = {"Data": message.text, "Charset": "UTF-8"}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        simple: dict[str, Any] = {
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": body or {"Text": {"Data": "", "Charset": "UTF-8"}},
        }
        if message.headers:
            simple["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        params: dict[str, Any] = {
            "FromEmailAddress": (
                formataddr((message.from_name, message.from_email))
                if message.from_name
                else message.from_email
            ),
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": simple},
        }
        if message.reply_to:
            params["ReplyToAddresses"] = [message.reply_to]
        if message.metadata:
            params["EmailTags"] = [{"Name": k, "Value": v} for k, v in message.metadata.items()]
        if self.configuration_set:
            params["ConfigurationSetName"] = self.configuration_set
        return params


def _classify(exc: ClientError, message: OutgoingEmail) -> ProviderError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    text = str(error.get("Message") or code)
    meta = exc.response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    if code in AUTH_CODES or status == 401:
        return AuthenticationError(text, code=code, provider="ses")
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        retry = retry_after_seconds(meta.get("HTTPHeaders"), now=time.time())
        return TransientError(text, code=code, provider="ses", retry_after=retry)
    if code in ACCOUNT_CODES:
        return AccountError(text, code=code, provider="ses")
    if code == "MessageRejected" and _NOT_VERIFIED.search(text):
        return _unverified(text, code, message)
    if code in REJECT_CODES and about_recipient(text, message):
        return PermanentError(text, code=code, provider="ses", suppress=True, reason="bounce")
    return PermanentError(text, code=code, provider="ses")


def _unverified(text: str, code: str, message: OutgoingEmail) -> PermanentError:
    """SES refusing an identity that is not verified: the sender (nothing can go) unless
    only the recipient is named (the sandbox: only verified recipients may receive)."""
    lowered = text.lower()
    if message.from_email.lower() in lowered or message.to.lower() not in lowered:
        return AccountError(f"the sender is not verified in SES: {text}", code=code, provider="ses")
    return PermanentError(
        f"SES sandbox: the recipient is not a verified identity of the account, so SES "
        f"refuses it (request production access to send to anyone): {text}",
        code=code,
        provider="ses",
    )


def about_recipient(text: str, message: OutgoingEmail) -> bool:
    """Whether an SES refusal is about the recipient address rather than the sender,
    account or content: it names the recipient, or speaks of an address without naming
    the sender or its verification."""
    lowered = text.lower()
    if message.to.lower() in lowered:
        return True
    if message.from_email.lower() in lowered or _SENDER_WORDS.search(text):
        return False
    return bool(_ADDRESS_WORDS.search(text))
