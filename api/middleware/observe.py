"""Each request gets an id (``X-Request-ID``), a latency metric and a row in the audit trail.

The row holds who (client or IP), the route template, status, latency and
request id: never bodies, headers or query strings, which may carry secrets.
"""

from __future__ import annotations

import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import RequestAudit
from api.metrics import Metrics
from api.middleware import add_raw_headers, state
from api.proxies import ClientAddress
from store.audit import REQUEST_ACTION, entry_values
from store.types import random_uuid

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Any token is a method to the HTTP parser: one of up to 16 KB in a request line became a
# metrics label (a new series for every one sent) and an audit row PostgreSQL refused.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestObserver:
    def __init__(self, app: ASGIApp, *, audit: RequestAudit, metrics: Metrics,
                 addresses: ClientAddress) -> None:
        self.app, self.audit, self.metrics = app, audit, metrics
        self.addresses = addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or random_uuid().hex  # no system call per request (store.types)
        state(scope)["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                add_raw_headers(message, [(b"x-request-id", request_id.encode())])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = getattr(scope.get("route"), "path", None) or "(unmatched)"
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        self.metrics.observe(method, route, status, seconds)
        ip = self.addresses.of(scope)
        request_state = state(scope)
        client_id = request_state.get("client_id")
        actor = f"api_client:{client_id}" if client_id else f"ip:{ip}"
        details = {"method": method, "path": scope["path"], "status": status,
                   "latency_ms": round(seconds * 1000, 2), "request_id": request_id, "ip": ip}
        tried = request_state.get("client_id_tried")
        if tried is not None:
            details["client_id_tried"] = tried  # a refused POST /v1/token: whose secret was guessed
        self.audit.add(entry_values(actor, REQUEST_ACTION, entity_type="route", entity_id=f"{method} {route}",
                                    details=details))


def _incoming_id(scope: Scope) -> str | None:
    # a caller's id is kept only when it is short and plain: it ends up in logs
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None
