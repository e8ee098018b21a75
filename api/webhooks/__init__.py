"""Webhooks: routes other services call (Twilio, Google), mounted under ``/webhooks``.

They carry no bearer token; instead each route verifies its sender with
``verified_sender(verifier)``. A verifier looks at the raw request (URL as
the sender saw it, headers, body) and raises ``SenderRejected`` when it is
not the sender it claims; the hook answers 403 and logs the reason, which
the caller is not told. Add a router to ``WEBHOOK_ROUTERS`` to mount it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request

from api.errors import ApiError
from api.schemas.errors import ERROR_RESPONSES

log = logging.getLogger("despacho.api.webhooks")

WEBHOOK_ROUTERS: list[APIRouter] = []


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


def mount_webhooks(app: Any) -> None:
    # the hook's 403, and the middlewares' 413 and 429, belong to every webhook's contract
    responses = {status: ERROR_RESPONSES[status] for status in (403, 413, 422, 429)}
    for router in WEBHOOK_ROUTERS:
        app.include_router(router, prefix="/webhooks", responses=responses)


# Routers come last: they import the hook above from this module.
from api.webhooks import twilio as _twilio  # noqa: E402

WEBHOOK_ROUTERS.append(_twilio.router)
