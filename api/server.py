"""Serving the app: ``despacho api``, or ``uvicorn api.server:app_from_environment --factory``."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from engine.runtime.assembly import producer_pipeline
from engine.settings import Settings, load_settings


def app_from_environment() -> FastAPI:
    """The app for ``DESPACHO_CONFIG`` and the environment (a uvicorn factory)."""
    return create_app(load_settings())


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    api = settings.api
    app = create_app(settings)
    # Webhooks reporting a failed delivery start the step's fallback through the pipeline.
    app.state.pipeline = producer_pipeline(settings)
    uvicorn.run(app, host=host or api.host, port=port or api.port, proxy_headers=api.trust_forwarded_for,
                server_header=False, log_level="info")
