"""``/health`` (the process answers), ``/ready`` (it can serve), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.context import ApiContext
from api.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])
METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text exposition format", "content": {"text/plain": {}}}}


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database or the broker does not answer"}})
async def ready(request: Request) -> JSONResponse:
    ctx: ApiContext = request.app.state.ctx
    is_ready, checks = await anyio.to_thread.run_sync(ctx.readiness.run)
    body: dict[str, Any] = {"status": "ready" if is_ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if is_ready else 503)


async def metrics(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
