"""Group commit for ``POST /v1/events``: concurrent requests share one transaction.

One commit per request caps the endpoint at the database's commit rate (and,
on SQLite, makes the request threads queue for the write lock). Here one
writer takes every request waiting since its last commit, stores all their
events with ``engine.runtime.intake.accept_events`` in one transaction, and answers
each request with its own share. Nothing waits on purpose: under light load
a batch is one request; under heavy load batches grow by themselves. A
failed batch fails each of its requests (they retry; ids make that safe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import sqlalchemy as sa

from engine.language.events import Event
from engine.runtime.intake import Accepted, accept_events
from store.db import session_scope

MAX_EVENTS_PER_COMMIT = 2000


@dataclass
class _Pending:
    events: Sequence[Event]
    done: asyncio.Future[list[Accepted]]


class EventIntake:
    def __init__(self, engine: sa.Engine, after_store: Callable[[], None] | None = None) -> None:
        self.engine = engine
        # Called after each commit: a daemon in the same process relays at once instead of polling.
        self.after_store = after_store
        self._pending: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, events: Sequence[Event]) -> list[Accepted]:
        self._ensure_writer()
        assert self._wake is not None
        item = _Pending(events, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self._wake.set()
        return await item.done

    def _ensure_writer(self) -> None:
        # started lazily, on the loop that serves requests (TestClient and uvicorn each have their own)
        if self._writer is None or self._writer.done():
            self._wake = asyncio.Event()
            self._writer = asyncio.create_task(self._write_forever())

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None

    async def _write_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._take()
                events = [event for item in batch for event in item.events]
                try:
                    results = await anyio.to_thread.run_sync(self._store, events)
                except Exception as exc:  # not swallowed: every waiting request raises it
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                start = 0
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(results[start:start + len(item.events)])
                    start += len(item.events)

    def _take(self) -> list[_Pending]:
        batch, count = [], 0
        while self._pending and (not batch or count + len(self._pending[0].events) <= MAX_EVENTS_PER_COMMIT):
            item = self._pending.pop(0)
            batch.append(item)
            count += len(item.events)
        return batch

    def _store(self, events: list[Event]) -> list[Accepted]:
        with session_scope(self.engine) as session:
            accepted = accept_events(session, events)
        if self.after_store is not None:
            self.after_store()
        return accepted
