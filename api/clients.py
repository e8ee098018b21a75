"""A token's client: still active? which events may it send? Answered from a short cache.

Tokens live minutes; a revocation, or a change of the event types a client
may send, therefore takes effect within ``ttl`` seconds on every API process
without a database read on the hot path. When an entry expires, one look-up
runs and the client's other requests meanwhile wait for its answer (rather
than each reading the database on its own thread, every ``ttl`` seconds).
"""

from __future__ import annotations

import asyncio
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
        self._lookups: dict[str, asyncio.Future[ClientState]] = {}

    async def is_active(self, client_id: str) -> bool:
        return (await self.state(client_id)).active

    async def state(self, client_id: str) -> ClientState:
        entry = self._entries.get(client_id)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        running = self._lookups.get(client_id)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = self._lookups[client_id] = asyncio.ensure_future(self._refresh(client_id, now))
        return await asyncio.shield(running)  # one caller going away does not cancel the others' answer

    async def _refresh(self, client_id: str, now: float) -> ClientState:
        try:
            state = await anyio.to_thread.run_sync(self._lookup, client_id)
        finally:
            latest = self._lookups.get(client_id) is asyncio.current_task()
            if latest:
                del self._lookups[client_id]
        if latest:  # else forgotten meanwhile: this answer may predate the change
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
        """Ask the database again next time; a look-up already running is not joined."""
        self._entries.pop(client_id, None)
        self._lookups.pop(client_id, None)
