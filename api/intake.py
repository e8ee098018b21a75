"""Group commit for ``POST /v1/events``: concurrent requests share one transaction.

One commit per request caps the endpoint at the database's commit rate (and,
on SQLite, makes the request threads queue for the write lock). Here one
writer takes every request waiting since its last commit, stores all their
events with ``engine.runtime.intake.accept_events`` in one transaction, and answers
each request with its own share. Nothing waits on purpose: under light load
a batch is one request; under heavy load batches grow by themselves.

One request's failure never fails the others: when a shared batch fails,
each of its requests is stored again alone, so only the guilty one gets the
error (the batch was rolled back, and ids make the second try safe).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import anyio
import sqlalchemy as sa

from engine.language.events import Event
from engine.runtime.intake import Accepted, accept_events
from store.db import session_scope, unreachable

log = logging.getLogger("despacho.api")
MAX_EVENTS_PER_COMMIT = 2000


@dataclass
class _Pending:
    events: Sequence[Event]
    done: asyncio.Future[list[Accepted]]


class EventIntake:
    def __init__(self, engine: sa.Engine, after_store: Callable[[], None] | None = None,
                 write_turn: AbstractContextManager[Any] | None = None,
                 write_behind: Callable[[], object] | None = None) -> None:
        self.engine = engine
        # taken around each commit, shared with the request audit (``api.app.write_turn``)
        self.write_turn = write_turn or nullcontext()
        # Run after each batch is answered, in its own transaction: the request audit's pending
        # rows. Left to its timer alone, under load it wrote 400 rows at a time and held the write
        # turn for 15 to 25 ms, which every event request waiting for it added to its latency.
        self.write_behind = write_behind
        # Called after each commit: a daemon in the same process relays at once instead of polling.
        self.after_store = after_store
        self._pending: deque[_Pending] = deque()
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
                if len(batch) == 1 or not await self._commit_together(batch):
                    for item in batch:
                        await self._commit_alone(item)
                if self.write_behind is not None:  # once the batch has its answers
                    await anyio.to_thread.run_sync(self._write_behind)

    async def _commit_together(self, batch: list[_Pending]) -> bool:
        """Store the batch in one transaction and answer its requests; ``False`` to retry them alone."""
        events = [event for item in batch for event in item.events]
        try:
            results = await anyio.to_thread.run_sync(self._store, events)
        except Exception as exc:  # not swallowed: each request is retried alone and gets its own error
            if unreachable(exc):  # nobody's fault, and trying each request would wait N times
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
                return True
            log.warning("a shared commit of %d requests failed (%s); storing them one by one",
                        len(batch), exc.__class__.__name__)
            return False
        start = 0
        for item in batch:
            if not item.done.done():
                item.done.set_result(results[start:start + len(item.events)])
            start += len(item.events)
        return True

    async def _commit_alone(self, item: _Pending) -> None:
        if item.done.done():  # the client went away meanwhile
            return
        try:
            results = await anyio.to_thread.run_sync(self._store, list(item.events))
        except Exception as exc:  # not swallowed: the request that sent these events raises it
            if not item.done.done():
                item.done.set_exception(exc)
            return
        if not item.done.done():
            item.done.set_result(results)

    def _take(self) -> list[_Pending]:
        batch, count = [], 0
        while self._pending and (not batch or count + len(self._pending[0].events) <= MAX_EVENTS_PER_COMMIT):
            item = self._pending.popleft()
            batch.append(item)
            count += len(item.events)
        return batch

    def _store(self, events: list[Event]) -> list[Accepted]:
        with self.write_turn, session_scope(self.engine) as session:
            accepted = accept_events(session, events)
        if self.after_store is not None:
            self.after_store()
        return accepted

    def _write_behind(self) -> None:
        # the events are committed: whatever happens here must not fail their requests
        assert self.write_behind is not None
        try:
            self.write_behind()
        except Exception:
            log.exception("writing behind the event commit failed; the events are stored")
