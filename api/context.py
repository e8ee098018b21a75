"""What every request handler shares: settings, the database, keys, limiter, audit, metrics.

One ``ApiContext`` per app, kept in ``app.state.ctx``; built by
``api.app.create_app`` so tests can hand in their own database and settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

from api.settings import ApiSettings
from store.db import session_scope

if TYPE_CHECKING:
    from api.audit import RequestAudit
    from api.clients import ClientCache
    from api.health import ReadinessChecks
    from api.intake import EventIntake
    from api.metrics import Metrics
    from api.proxies import ClientAddress
    from api.ratelimit import RateLimiter
    from api.tokens import TokenService
    from engine.runtime.compose import Core


@dataclass
class ApiContext:
    settings: Any  # engine.settings.Settings
    api: ApiSettings
    engine: sa.Engine
    tokens: TokenService
    limiter: RateLimiter
    clients: ClientCache
    audit: RequestAudit
    metrics: Metrics
    readiness: ReadinessChecks
    intake: EventIntake
    addresses: ClientAddress  # the client IP, behind api.trusted_proxies or not
    # the engine's stages when this process has them: queued steps are sent after each commit,
    # failed deliveries start their fallbacks at once
    core: Core | None = None

    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session
