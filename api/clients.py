"""A token's client: still active? which events may it send? Answered from a short cache.

Tokens live minutes; a revocation, or a change of the event types a client
may send, therefore takes effect within ``ttl`` seconds on every API process
without a database read on the hot path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import sqlalchemy as sa

from store.api_clients import find_client, is_active
from store.db import session_scope
from store.errors import NotFound


@dataclass(frozen=True)
class ClientState:
    active: bool
    event_types: tuple[str, ...] = ()  # patterns; empty: no event at all
    event_source: str = ""


_GONE = ClientState(active=False)


class ClientCache:
    def __init__(self, engine: sa.Engine, ttl: float = 10.0) -> None:
        self.engine, self.ttl = engine, ttl
        self._entries: dict[str, tuple[float, ClientState]] = {}

    async def is_active(self, client_id: str) -> bool:
        return (await self.state(client_id)).active

    async def state(self, client_id: str) -> ClientState:
        entry = self._entries.get(client_id)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        state = await anyio.to_thread.run_sync(self._lookup, client_id)
        self._entries[client_id] = (now + self.ttl, state)
        return state

    def _lookup(self, client_id: str) -> ClientState:
        with session_scope(self.engine) as session:
            try:
                client = find_client(session, client_id)
            except NotFound:
                return _GONE
            return ClientState(is_active(client), tuple(client.event_types), client.event_source)

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
