"""Is a token's client still active? Answered from a short cache, not a query per request.

Tokens live minutes; a revocation therefore takes effect within ``ttl``
seconds on every API process without a database read on the hot path.
"""

from __future__ import annotations

import time

import anyio
import sqlalchemy as sa

from store.api_clients import find_client, is_active
from store.db import session_scope
from store.errors import NotFound


class ClientCache:
    def __init__(self, engine: sa.Engine, ttl: float = 10.0) -> None:
        self.engine, self.ttl = engine, ttl
        self._entries: dict[str, tuple[float, bool]] = {}

    async def is_active(self, client_id: str) -> bool:
        entry = self._entries.get(client_id)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        active = await anyio.to_thread.run_sync(self._lookup, client_id)
        self._entries[client_id] = (now + self.ttl, active)
        return active

    def _lookup(self, client_id: str) -> bool:
        with session_scope(self.engine) as session:
            try:
                return is_active(find_client(session, client_id))
            except NotFound:
                return False

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
