"""Verifying a webhook's sender: the hook every webhook route runs before its body.

A verifier looks at the raw request (URL as the sender saw it, headers, body)
and raises ``SenderRejected`` when it is not the sender it claims; the hook
answers 403 and logs the reason, which the caller is not told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import Request

from api.errors import ApiError

log = logging.getLogger("despacho.api.webhooks")


class SenderRejected(ApiError):
    status = 403
    code = "sender_not_verified"


Verifier = Callable[[Request, str], Awaitable[None]]  # (request, public URL of this request)


def public_url(request: Request) -> str:
    """The URL the sender called (``api.public_url`` + path + query): what signatures cover."""
    base = request.app.state.ctx.api.public_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


def verified_sender(verifier: Verifier) -> Callable[[Request], Awaitable[None]]:
    """A dependency that runs ``verifier`` and turns its refusal into 403 (logged with the reason)."""

    async def dependency(request: Request) -> None:
        try:
            await verifier(request, public_url(request))
        except SenderRejected as exc:
            log.warning("webhook sender rejected on %s: %s (request %s)", request.url.path, exc.message,
                        getattr(request.state, "request_id", "-"))
            raise SenderRejected("the sender could not be verified") from exc

    return dependency
