"""The host CRM's side of outbound webhooks: a tiny HTTP server on 127.0.0.1 that
verifies each request with the ``standardwebhooks`` library, as a receiver would.

``answers`` is a queue of status codes to give (then 200); ``received`` keeps every
request (headers, raw body, whether its signature verified, the parsed payload).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: Any


@dataclass
class CrmReceiver:
    secret: str | None = None
    answers: deque[int | tuple[int, dict[str, str]]] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)

    def __enter__(self) -> CrmReceiver:
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._thread.join(5)

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/decant"

    def events(self, type_: str | None = None) -> list[Received]:
        return [r for r in self.received if type_ is None or r.payload.get("type") == type_]

    @Request.application
    def _app(self, request: Request) -> Response:
        body = request.get_data()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified, payload = False, None
        try:
            payload = Webhook(self.secret or "whsec_AAAA").verify(body, headers)
            verified = True
        except WebhookVerificationError:
            payload = json.loads(body or b"null")
        self.received.append(Received(request.path, headers, body, verified, payload))
        answer = self.answers.popleft() if self.answers else 200
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        return Response("ok" if status < 300 else "nope", status=status, headers=extra)
