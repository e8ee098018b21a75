"""Webhooks: routes other services call (Twilio, Google, Asaas), mounted under ``/webhooks``.

They carry no bearer token; instead each route verifies its sender with
``verify.verified_sender(verifier)``. Add a router to ``WEBHOOK_ROUTERS`` to
mount it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.schemas.errors import ERROR_RESPONSES
from api.webhooks import asaas, google_calendar, twilio

WEBHOOK_ROUTERS: list[APIRouter] = [twilio.router, google_calendar.router, asaas.router]


def mount_webhooks(app: Any) -> None:
    # the hook's 403, and the middlewares' 413 and 429, belong to every webhook's contract
    responses = {status: ERROR_RESPONSES[status] for status in (403, 413, 422, 429)}
    for router in WEBHOOK_ROUTERS:
        app.include_router(router, prefix="/webhooks", responses=responses)
