"""Amazon SES v2 for tests: moto's server behind a thin recording proxy, on 127.0.0.1.

``FakeSes`` starts ``ThreadedMotoServer`` on port 0 and, in front of it, an HTTP proxy
(``.url``, the endpoint to give boto3) that forwards every call to moto, records each
SendEmail moto accepted in ``.received`` (moto keeps neither headers nor tags) and can be
scripted to answer as SES does when throttled (429 TooManyRequestsException), failing
(503), refusing credentials (403 UnrecognizedClientException), refusing an address
(400 BadRequestException "Illegal address") or hanging. moto itself refuses unverified
senders (MessageRejected) and addresses without a domain (InvalidParameterValue).

It also plays the account states SES documents and moto lacks: ``sandbox = True``
refuses a recipient that is not a verified identity (400 MessageRejected "Email address
is not verified. The following identities failed the check in region ..."), and
``account_state = "suspended"`` or ``"paused"`` refuses every send
(AccountSuspendedException, SendingPausedException).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer
from werkzeug.wrappers import Request, Response

from tests.fakes.sendgrid import Failure, ScriptedHTTPFake

REGION = "us-east-1"
ACCESS_KEY = "AKIAFAKEFAKEFAKE0000"
SECRET_KEY = "fake-secret-key"
_SEND_PATH = "/v2/email/outbound-emails"
_HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}

_SCRIPTED = {
    400: ("BadRequestException", "Illegal address"),
    401: ("UnrecognizedClientException", "The security token included in the request is invalid."),
    403: ("UnrecognizedClientException", "The security token included in the request is invalid."),
    429: ("TooManyRequestsException", "Maximum sending rate exceeded."),
    500: ("InternalFailure", "An internal error occurred."),
    503: ("ServiceUnavailable", "Service is unavailable."),
}


@dataclass
class SesMail:
    """One SendEmail moto accepted, as the client sent it."""

    message_id: str
    to: list[str]
    from_: str
    subject: str
    html: str | None
    text: str | None
    headers: dict[str, str]
    tags: dict[str, str]
    reply_to: list[str]
    configuration_set: str | None


class FakeSes(ScriptedHTTPFake):
    """moto + recording proxy; ``verify(address)`` creates a sending identity."""

    def __init__(self, region: str = REGION, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region = region
        self.received: list[SesMail] = []
        self.moto: ThreadedMotoServer | None = None
        self.moto_url = ""
        self._session = requests.Session()
        self.sandbox = False
        self.account_state: str | None = None  # "suspended" | "paused"
        self.identities: set[str] = set()

    def __enter__(self) -> FakeSes:
        self.start()
        return self

    def start(self) -> FakeSes:
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self._session.close()
        if self.moto is not None:
            self.moto.stop()
            server = getattr(self.moto, "_server", None)
            if server is not None:
                server.server_close()
            self.moto = None

    def client(self, endpoint: str | None = None) -> Any:
        """A boto3 sesv2 client for setting things up (straight to moto by default)."""
        return boto3.session.Session().client(
            "sesv2",
            region_name=self.region,
            endpoint_url=endpoint or self.moto_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def verify(self, identity: str) -> None:
        """Create (and so, in moto, verify) a sending identity: an address or a domain."""
        self.client().create_email_identity(EmailIdentity=identity)
        with self._lock:
            self.identities.add(identity.lower())

    def _account_refusal(self, params: dict[str, Any]) -> Response | None:
        """SES's refusals for the account's state (moto knows none of them)."""
        if self.account_state == "suspended":
            return self._error(
                400,
                "AccountSuspendedException",
                "The account has been suspended: it may not send email.",
            )
        if self.account_state == "paused":
            return self._error(
                400, "SendingPausedException", "Email sending is disabled for this account."
            )
        if self.sandbox:
            recipients = params.get("Destination", {}).get("ToAddresses", [])
            unverified = [r for r in recipients if not self._verified(r)]
            if unverified:
                return self._error(
                    400,
                    "MessageRejected",
                    "Email address is not verified. The following identities failed the "
                    f"check in region {self.region.upper()}: {', '.join(unverified)}",
                )
        return None

    def _verified(self, address: str) -> bool:
        address = address.lower()
        return address in self.identities or address.rpartition("@")[2] in self.identities

    def _error(self, status: int, code: str, message: str) -> Response:
        return self.json_response(status, {"message": message}, {"x-amzn-ErrorType": code})

    # -- HTTP ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        failure = self.run_script(self._scripted())
        if failure is not None:
            return self._failure(failure)
        body = request.get_data()
        if request.path == _SEND_PATH:
            refusal = self._account_refusal(json.loads(body or b"{}"))
            if refusal is not None:
                return refusal
        upstream = self._session.request(
            request.method,
            self.moto_url + request.full_path.rstrip("?"),
            data=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS},
            timeout=10,
        )
        if request.path == _SEND_PATH and upstream.status_code == 200:
            self._record(json.loads(body), upstream.json())
        headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
        return Response(upstream.content, status=upstream.status_code, headers=headers)

    def _failure(self, failure: Failure) -> Response:
        code, message = _SCRIPTED.get(failure.status, ("InternalFailure", "Error"))
        headers = {"x-amzn-ErrorType": code, **failure.headers}
        return self.json_response(failure.status, {"message": message}, headers)

    def _record(self, params: dict[str, Any], answer: dict[str, Any]) -> None:
        simple = params["Content"]["Simple"]
        body = simple.get("Body", {})
        mail = SesMail(
            message_id=answer["MessageId"],
            to=list(params.get("Destination", {}).get("ToAddresses", [])),
            from_=params["FromEmailAddress"],
            subject=simple["Subject"]["Data"],
            html=body.get("Html", {}).get("Data"),
            text=body.get("Text", {}).get("Data"),
            headers={h["Name"]: h["Value"] for h in simple.get("Headers", [])},
            tags={t["Name"]: t["Value"] for t in params.get("EmailTags", [])},
            reply_to=list(params.get("ReplyToAddresses", [])),
            configuration_set=params.get("ConfigurationSetName"),
        )
        with self._lock:
            self.received.append(mail)
