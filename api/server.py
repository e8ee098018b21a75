"""Serving the app: ``despacho api``, or ``uvicorn api.server:app_from_environment --factory``."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.settings import api_settings, split_environ
from engine.settings import Settings, load_settings


def load_api_config(config: str | None = None) -> tuple[Settings, dict[str, str]]:
    """Settings, and the ``DESPACHO_API__*`` variables ``engine.settings`` does not know yet."""
    allowed, ours = split_environ(os.environ)
    return load_settings(config, allowed), ours


def app_from_environment() -> FastAPI:
    """The app for ``DESPACHO_CONFIG`` and the environment (a uvicorn factory)."""
    settings, extra = load_api_config()
    return create_app(settings, api=api_settings(settings, extra))


def serve(settings: Settings, extra: dict[str, str], host: str | None = None,
          port: int | None = None) -> None:
    api = api_settings(settings, extra)
    app = create_app(settings, api=api)
    uvicorn.run(app, host=host or api.host, port=port or api.port, proxy_headers=api.trust_forwarded_for,
                server_header=False, log_level="info")
