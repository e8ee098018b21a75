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
    add_raw_headers(message, raw_headers(headers))


def raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them; a middleware whose headers never change encodes them once."""
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def add_raw_headers(message: Message, raw: list[tuple[bytes, bytes]]) -> None:
    """Add the headers the response does not set itself."""
    headers = list(message.get("headers", []))
    present = {k.lower() for k, _ in headers}
    headers += [(k, v) for k, v in raw if k not in present]
    message["headers"] = headers


def state(scope: Scope) -> dict[str, Any]:
    """``request.state`` as a dict: Starlette keeps it in ``scope["state"]``."""
    return scope.setdefault("state", {})

