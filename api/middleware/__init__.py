"""Pure ASGI middlewares (no per-request task or body copy, unlike ``BaseHTTPMiddleware``)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Scope, Send

from api.errors import error_body


async def send_error(send: Send, status: int, code: str, message: str, details: Any = None,
                     headers: dict[str, str] | None = None) -> None:
    """Answer from a middleware, in the same shape as the exception handlers."""
    body = json.dumps(error_body(code, message, details)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def add_headers(message: Message, headers: dict[str, str]) -> None:
    present = {k.lower() for k, _ in message.get("headers", [])}
    extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()
             if k.lower().encode() not in present]
    message["headers"] = [*message.get("headers", []), *extra]


def state(scope: Scope) -> dict[str, Any]:
    """``request.state`` as a dict: Starlette keeps it in ``scope["state"]``."""
    return scope.setdefault("state", {})

