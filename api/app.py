"""``create_app``: the FastAPI app with its routes, protections and shared context.

Middlewares, outermost first: security headers → request id, metrics and
audit → per-IP rate limit → body size limit → (CORS, when configured) → routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import anyio
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse

from api.audit import RequestAudit
from api.auth import requires
from api.clients import ClientCache
from api.context import ApiContext
from api.handlers import install_handlers
from api.health import ReadinessChecks
from api.intake import EventIntake
from api.metrics import Metrics
from api.middleware.body_limit import BodyLimit
from api.middleware.ip_limit import IpRateLimit
from api.middleware.observe import RequestObserver
from api.middleware.security_headers import SecurityHeaders
from api.proxies import ClientAddress
from api.ratelimit import RateLimiter, storage_uri
from api.routes import (
    billing,
    consent,
    customers,
    events,
    health,
    incidents,
    operations,
    orders,
    privacy,
    suppressions,
    sync,
    token,
    unsubscribe,
)
from api.schemas.errors import ERROR_RESPONSES
from api.settings import ApiSettings, api_settings
from api.tokens import TokenService, new_signing_key
from api.webhooks import mount_webhooks
from console.app import mount_console
from console.context import Console
from store.db import make_engine
from store.keyring import load_or_create, parse_keys

if TYPE_CHECKING:
    from engine.runtime.compose import Core

log = logging.getLogger("despacho.api")

# Short, so each write is small: 1 s of requests under load (hundreds of rows) held the
# interpreter and SQLite's write lock for tens of milliseconds at once, and stalled the requests
# in flight meanwhile.
AUDIT_FLUSH_SECONDS = 0.25
V1_ROUTERS = (token.router, events.router, customers.router, orders.router, billing.router,
              operations.router, sync.router, privacy.router, incidents.router, suppressions.router,
              consent.router, unsubscribe.router)


def build_context(settings: Any, api: ApiSettings, engine: sa.Engine,
                  limiter: RateLimiter | None = None, core: Core | None = None) -> ApiContext:
    ring = (parse_keys(api.jwt_keys, "api.jwt_keys") if api.jwt_keys.strip()
            else load_or_create(api.jwt_keys_file, new_signing_key, "api.jwt_keys_file"))
    metrics = Metrics(engine)
    turn = write_turn(engine)
    audit = RequestAudit(engine, metrics, enabled=api.audit_requests, write_turn=turn)
    return ApiContext(
        settings=settings, api=api, engine=engine,
        tokens=TokenService(ring, issuer=api.issuer, audience=api.audience, ttl=api.token_ttl),
        limiter=limiter or RateLimiter(storage_uri(api.rate_limit_storage, settings.broker.coordination()),
                                     api.rate_limit_prefix),
        clients=ClientCache(engine),
        audit=audit,
        metrics=metrics, readiness=ReadinessChecks(engine, settings),
        intake=EventIntake(engine, after_store=core.relay_wakeup.set if core else None, write_turn=turn,
                           along=audit),
        core=core,
        addresses=ClientAddress(api.trusted_proxies),
    )


def write_turn(engine: sa.Engine) -> AbstractContextManager[Any]:
    """What the app's two background writers (event intake, request audit) take around a commit.

    SQLite has one writer at a time, and a connection that finds the file locked retries after
    sleeps of 1, 2, 5, 10, ... 100 ms, whenever the lock was freed. Taking turns on a lock in this
    process wakes the next writer as soon as the other commits. PostgreSQL locks rows, not the
    database: nothing to take turns on.
    """
    return threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()


def create_app(settings: Any, *, api: ApiSettings | None = None, engine: sa.Engine | None = None,
               limiter: RateLimiter | None = None, core: Core | None = None) -> FastAPI:
    """The app; with ``core`` (built by ``engine.runtime.compose.build_core``) it shares the engine's
    database and sends the steps its requests queue (dead-letter retries, delivery fallbacks)."""
    api = api or api_settings(settings)
    engine = engine or (core.db if core else make_engine(settings.database.url))
    ctx = build_context(settings, api, engine, limiter, core)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_write_behind_forever(ctx))
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await ctx.intake.stop()
            await anyio.to_thread.run_sync(ctx.audit.flush)

    app = FastAPI(title="despacho API", version="1", lifespan=lifespan,
                  description="Events in, records managed, what the engine did read back. "
                              "Errors are {\"error\": {\"code\", \"message\", \"details\"}}.")
    app.state.ctx = ctx
    install_handlers(app)
    app.include_router(health.router)
    _add_metrics_route(app, api)
    for router in V1_ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    mount_webhooks(app)
    mount_console(app, Console(settings=settings, engine=engine, core=core))
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    app.add_middleware(BodyLimit, max_bytes=api.max_body_bytes)
    app.add_middleware(IpRateLimit, limiter=ctx.limiter, limit=api.ip_rate_limit, metrics=ctx.metrics,
                       addresses=ctx.addresses)
    app.add_middleware(RequestObserver, audit=ctx.audit, metrics=ctx.metrics, addresses=ctx.addresses)
    app.add_middleware(SecurityHeaders, https=api.public_url.startswith("https://"))
    return app


def _add_metrics_route(app: FastAPI, api: ApiSettings) -> None:
    if api.metrics_public:
        app.add_api_route("/metrics", health.metrics, methods=["GET"], tags=["health"],
                          response_class=PlainTextResponse, responses=health.METRICS_RESPONSES)
        return

    async def protected_metrics(request: Request, principal: requires("metrics:read")) -> Response:
        return await health.metrics(request)

    app.add_api_route("/metrics", protected_metrics, methods=["GET"], tags=["health"],
                      response_class=PlainTextResponse, responses=health.METRICS_RESPONSES)


async def _write_behind_forever(ctx: ApiContext) -> None:
    sqlite = ctx.engine.dialect.name == "sqlite"
    while True:
        await asyncio.sleep(AUDIT_FLUSH_SECONDS)
        await anyio.to_thread.run_sync(ctx.audit.flush_unless_riding, AUDIT_FLUSH_SECONDS)
        if sqlite:
            await anyio.to_thread.run_sync(_checkpoint, ctx.engine)


def _checkpoint(engine: sa.Engine) -> None:
    """Copy the write-ahead log into the database file, off the request path.

    SQLite does it by itself inside the commit that grows the log past
    ``store.db.WAL_AUTOCHECKPOINT_PAGES``: an event commit that also copies the log and waits for
    the disk makes every request in it wait too. Done here, a little at a time, that commit
    finds almost nothing left to copy. PASSIVE: it waits for no reader or writer; what it cannot
    copy now it copies next time (so under steady load the log seldom starts over from here).
    """
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except sa.exc.SQLAlchemyError as exc:  # SQLite's own checkpoint in a commit still happens
        log.warning("write-ahead log checkpoint failed: %s", exc.__class__.__name__)
