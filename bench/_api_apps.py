"""The two servers bench_api.py compares, as uvicorn factories (same uvicorn, same worker count)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class Body(BaseModel):
    type: str
    id: str
    data: dict[str, Any] = {}


def bare_app() -> FastAPI:
    """The baseline: a pydantic body, 202, nothing else."""
    app = FastAPI()

    @app.post("/v1/events", status_code=202)
    async def accept(body: Body) -> dict[str, Any]:
        return {"accepted": [{"id": body.id, "stored": True}]}

    return app


def real_app() -> FastAPI:
    from api.server import app_from_environment

    return app_from_environment()
