"""The API inside another process (``despacho run``): uvicorn on a thread, sharing the daemon's core.

With the core in the app's context, webhooks that report a failed delivery
start the step's fallback at once, and accepted events wake the relay.
"""

from __future__ import annotations

import threading

import uvicorn

from api.app import create_app
from engine.runtime.compose import Core


class ApiThread:
    def __init__(self, core: Core) -> None:
        self.app = create_app(core.settings, core=core)
        api = core.settings.api
        # log_config=None: uvicorn's lines go to the daemon's JSON logs (engine/runtime/logs.py)
        config = uvicorn.Config(self.app, host=api.host, port=api.port, log_level="warning", log_config=None,
                                # X-Forwarded-For is read by the app, from api.trusted_proxies only
                                proxy_headers=False, server_header=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="despacho-api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
