"""Serving the app: ``despacho api``, or ``uvicorn api.server:app_from_environment --factory``.

Both build the engine's runtime with the composition root, so a delivery
failure reported by a webhook starts the step's fallback at once and a
dead-letter retry is sent as soon as it commits.
"""

from __future__ import annotations

import gc
import sys

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from engine.runtime.compose import build_core
from engine.runtime.logs import configure
from engine.settings import Settings, load_settings


def app_for(settings: Settings) -> FastAPI:
    """The API alone: it consumes no steps; with a shared broker it sends them there.

    What was built to get here (rules, models, routes, connectors: about 230,000 objects) lives
    as long as the process, so it is moved out of the garbage collector's sight
    (``gc.freeze``). Otherwise every full collection walks all of it again: under load one
    every few seconds, each stopping every request in flight for 100 to 300 ms.
    """
    app = create_app(settings, core=build_core(settings, consume=False))
    gc.collect()  # what startup left as garbage is freed, not frozen
    gc.freeze()
    return app


# The event intake and the request audit commit from worker threads (api.intake); each SQLite call
# there lets go of the interpreter and then waits for the busy event loop to hand it back, which by
# default it does after 5 ms. A commit took several of those, and every request in its batch
# waited: handing over every 0.5 ms, bench/bench_api.py ran about 8% more requests with an 11%
# lower p99 (the figures of issue 9's note).
SWITCH_INTERVAL_S = 0.0005


def app_from_environment() -> FastAPI:
    """The app for ``DESPACHO_CONFIG`` and the environment (a uvicorn factory); its logs, uvicorn's
    included, become JSON lines from here on, and the process takes ``SWITCH_INTERVAL_S``."""
    settings = load_settings()
    configure(settings.execution.log_level)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return app_for(settings)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve until stopped; logging must be configured (``engine.runtime.logs.configure``): uvicorn's
    own configuration is left out so its lines come out as JSON like every other."""
    api = settings.api
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # X-Forwarded-For is read by the app, from api.trusted_proxies only (api/proxies.py)
    uvicorn.run(app_for(settings), host=host or api.host, port=port or api.port,
                proxy_headers=False, server_header=False, log_level="info", log_config=None)
