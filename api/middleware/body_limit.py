"""Request bodies larger than ``api.max_body_bytes`` get 413 before anything parses them.

A declared ``Content-Length`` is judged before the app runs. A chunked body
has none, so its bytes are counted as the app reads them; past the limit the
read fails, and whatever the app answers to that (FastAPI turns any error
while reading a body into 400) is replaced by the 413 the client should see.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLarge
from api.middleware import send_error


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await send_error(send, 413, "payload_too_large",
                             f"the body is {declared} bytes; at most {self.max_bytes} are accepted")
            return
        seen = 0
        overflow = started = False

        async def counting_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    overflow = True
                    raise PayloadTooLarge(f"the body exceeds {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflow and not started:
                return  # the app's answer to a body cut short; the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLarge:
            if not overflow:
                raise
            # ours, and no handler caught it: answered below like the rest
        if overflow and not started:
            await send_error(send, 413, "payload_too_large", f"the body exceeds {self.max_bytes} bytes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
