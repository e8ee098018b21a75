"""Connecting a company to Conta Azul: the authorisation code flow with a loopback redirect.

``despacho accounting connect conta-azul`` builds the consent URL (client_id, redirect_uri, a
random ``state``, the scopes), waits on ``http://localhost:PORT/callback`` for Conta Azul's
redirect with ``?code=&state=``, checks the state (constant time: a page that did not come from
our consent URL is refused), exchanges the code at ``token_uri`` and stores the grant
(``conta_azul_auth.ConnectionStore.connect``). The receiver answers one request and stops; it
listens on the loopback interface only.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from connectors.accounting.adapter import Exchange
from connectors.accounting.settings import ContaAzulSettings
from errors import PermanentError

if TYPE_CHECKING:
    from connectors.accounting.conta_azul_auth import SessionFactory
    from store.secrets import SecretBox

CALLBACK = "/callback"
MAX_PARAM = 2048  # an authorisation code is ~40 characters


def authorize_url(settings: ContaAzulSettings, redirect_uri: str, state: str) -> str:
    if not settings.client_id:
        raise PermanentError("connectors.accounting.conta_azul.client_id is not set", code="not_configured")
    query = {"response_type": "code", "client_id": settings.client_id, "redirect_uri": redirect_uri,
             "state": state, "scope": settings.scope}
    return f"{settings.auth_url}?{urlencode(query)}"


@dataclass
class Callback:
    """What the browser brought back; ``error`` when the user refused or the state did not match."""

    code: str | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 waiting for the redirect."""

    def __init__(self, port: int = 0) -> None:
        self.state = secrets.token_urlsafe(24)
        self.result = Callback()
        self.server = HTTPServer(("127.0.0.1", port), _handler(self))
        self.redirect_uri = f"http://localhost:{self.server.server_address[1]}{CALLBACK}"

    def wait(self, timeout: float) -> str:
        thread = threading.Thread(target=self._serve, daemon=True)
        thread.start()
        try:
            if not self.result.done.wait(timeout):
                raise PermanentError(f"no answer from the browser within {timeout:g} s; run the command "
                                     "again", code="connect_timeout")
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)
        if self.result.error or not self.result.code:
            raise PermanentError(f"Conta Azul did not authorise: {self.result.error}", code="connect_refused")
        return self.result.code

    def _serve(self) -> None:
        self.server.serve_forever(poll_interval=0.05)

    def take(self, query: dict[str, list[str]]) -> tuple[int, str]:
        """One redirect: the page to show, and whether the flow is over."""
        def one(name: str) -> str:
            values = query.get(name) or [""]
            return values[-1][:MAX_PARAM] if len(values) == 1 else ""

        if not hmac.compare_digest(one("state").encode(), self.state.encode()):
            return 400, ("This page was not opened from despacho's link (state does not match). "
                         "Nothing was stored.")
        if one("error"):
            self.result.error = one("error")[:100]
        elif one("code"):
            self.result.code = one("code")
        else:
            return 400, "The redirect carried no authorisation code."
        self.result.done.set()
        return 200, "despacho: Conta Azul answered. You can close this tab and return to the terminal."


def _handler(receiver: LoopbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path[:4096])
            if parts.path == CALLBACK:
                status, text = receiver.take(parse_qs(parts.query))
            else:
                status, text = 404, "Not found"
            raw = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


def finish(settings: ContaAzulSettings, sessions: SessionFactory, box: SecretBox, company: str, code: str,
           redirect_uri: str, audit: Callable[[Exchange], None] | None = None) -> int:
    """Exchange the code and store the grant; the connection's new token version."""
    import httpx

    from connectors.accounting.conta_azul_auth import ConnectionStore, forget_all
    from connectors.accounting.conta_azul_oauth import TokenEndpoint

    store = ConnectionStore(sessions, box, company)  # the name is checked before anything is sent
    with httpx.Client(timeout=settings.timeout) as client:
        tokens = TokenEndpoint(settings, client, audit or (lambda _: None)).exchange_code(
            code, redirect_uri, datetime.now(UTC))
    version = store.connect(tokens)
    forget_all()
    return version
