"""``/health`` (the process answers), ``/ready`` (it can serve), ``/metrics`` (Prometheus).

``/ready`` is for load balancers, which send no token: they get the status
alone. Its checks say more than a stranger should read (the SMTP server's
greeting, hosts, driver error names), so they are shown only to a bearer of
the ``ops:read`` scope (``admin`` holds it); any other caller, with a bad
token or none, gets the same plain status, so a probe never fails on auth.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes

from api.auth import authenticate
from api.context import ApiContext
from api.errors import Forbidden, RateLimited, Unauthenticated
from api.health import check_rules
from api.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])
METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text exposition format", "content": {"text/plain": {}}}}
READY_DETAILS_SCOPE = "ops:read"


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database or the broker does not answer"}})
async def ready(request: Request) -> JSONResponse:
    """``{"status"}``: ``ready``, ``degraded`` (200: serving, but the rule files do not load and the
    last good rule set runs, or the last backup failed / none succeeded in ``max_age_hours``) or
    ``unavailable`` (503); with a token holding ``ops:read``, also ``checks`` (database, broker,
    backup, connectors, rules)."""
    ctx: ApiContext = request.app.state.ctx
    details = await _may_see_details(request)
    is_ready, checks = await anyio.to_thread.run_sync(ctx.readiness.run, details)
    rules = check_rules(ctx.core.rules.state()) if ctx.core is not None else None
    degraded = (rules is not None and rules["status"] == "degraded") or \
        checks.get("backup", {}).get("status") in ("degraded", "fail")
    body: dict[str, Any] = {"status": ("degraded" if degraded else "ready") if is_ready else "unavailable"}
    if details:
        body["checks"] = checks if rules is None else {**checks, "rules": rules}
    return JSONResponse(body, status_code=200 if is_ready else 503)


async def _may_see_details(request: Request) -> bool:
    authorization = request.headers.get("authorization")
    if not authorization:
        return False
    try:
        await authenticate(request, SecurityScopes([READY_DETAILS_SCOPE]), authorization)
    except (Unauthenticated, Forbidden, RateLimited):
        return False
    return True


async def metrics(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
