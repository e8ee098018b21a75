"""The API inside another process (``despacho run``): uvicorn on a thread, sharing the pipeline.

With the pipeline in ``app.state``, webhooks that report a failed delivery
start the step's fallback at once, and accepted events wake the relay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import uvicorn

from api.app import create_app
from engine.runtime.pipeline import Pipeline
from engine.settings import Settings


class ApiThread:
    def __init__(self, settings: Settings, pipeline: Pipeline, on_accept: Callable[[], None]) -> None:
        self.app = create_app(settings)
        self.app.state.pipeline = pipeline
        self.app.state.ctx.intake.after_store = on_accept
        api = settings.api
        config = uvicorn.Config(self.app, host=api.host, port=api.port, log_level="warning",
                                proxy_headers=api.trust_forwarded_for, server_header=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="despacho-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
