"""Security headers on every response; a looser policy only where Swagger UI needs its scripts."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import add_raw_headers, raw_headers

STRICT = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# FastAPI's /docs page loads swagger-ui from jsDelivr and runs an inline bootstrap script
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "connect-src 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.strict = dict(STRICT)
        if https:
            self.strict["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        self.docs = {**self.strict, "Content-Security-Policy": DOCS_CSP}
        self._strict_raw, self._docs_raw = raw_headers(self.strict), raw_headers(self.docs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self._docs_raw if scope["path"] in DOCS_PATHS else self._strict_raw

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_raw_headers(message, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
