"""Per-IP rate limit on every route, and the ``RateLimit-*`` headers on every response.

The headers show the tightest budget the request drew from: the client's when
``api.auth`` counted one (it leaves its state in ``request.state.ratelimit``),
else the IP's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RateLimited
from api.metrics import Metrics
from api.middleware import add_headers, send_error, state
from api.proxies import ClientAddress
from api.ratelimit import RateLimiter

EXEMPT = ("/health",)  # probes must not be starved by a noisy neighbour on the same IP


class IpRateLimit:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, limit: str, metrics: Metrics,
                 addresses: ClientAddress) -> None:
        self.app, self.limiter, self.limit, self.metrics = app, limiter, limit, metrics
        self.addresses = addresses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        ip = self.addresses.of(scope)
        try:
            ip_state = await self.limiter.hit(self.limit, "ip", ip)
        except RateLimited as exc:
            self.metrics.rate_limited.labels("ip").inc()
            await send_error(send, exc.status, exc.code, exc.message, exc.details, exc.headers)
            return
        request_state = state(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                current = request_state.get("ratelimit") or ip_state
                if current is not None:
                    add_headers(message, current.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)
