"""Group commit for ``POST /v1/events``: concurrent requests share one transaction.

One commit per request caps the endpoint at the database's commit rate (and,
on SQLite, makes the request threads queue for the write lock). Here one
writer takes every request waiting since its last commit, stores all their
events with ``engine.runtime.intake.accept_events`` in one transaction, and answers
each request with its own share. Before taking a batch the writer lets the
event loop turn a few times (``GATHER_TURNS``), so requests already received
reach it too instead of making a commit of their own; nothing waits on a
clock: under light load a batch is one request, under heavy load batches grow
by themselves. The request audit's pending rows ride in the same transaction
(``api.audit.RequestAudit.ride``).

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
from typing import Any, Protocol

import anyio
import sqlalchemy as sa
from sqlmodel import Session

from engine.language.events import Event
from engine.runtime.intake import Accepted, accept_events
from store.db import session_scope, unreachable

log = logging.getLogger("despacho.api")
MAX_EVENTS_PER_COMMIT = 2000
# A request whose body has arrived reaches ``submit`` within a turn or two of the loop (its checks
# await nothing slow). Taken at once, 16 concurrent clients made commits of 1+15 or 2+14 requests,
# and each commit of a few went while the loop was busy with the others; letting it turn 5 times
# first made one commit of 16: 1,832 against 1,581 requests/s, p99 11.7 against 14.4 ms (the
# bench_api.py load, one run each, audit rows riding in both).
GATHER_TURNS = 5


class AlongRows(Protocol):
    """Rows written inside the intake's transaction (the request audit's): ``ride`` yields the
    function that writes them, and keeps them for later unless the transaction commits."""

    def ride(self) -> AbstractContextManager[Callable[[Session], None]]: ...


@dataclass
class _Pending:
    events: Sequence[Event]
    done: asyncio.Future[list[Accepted]]


class EventIntake:
    def __init__(self, engine: sa.Engine, after_store: Callable[[], None] | None = None,
                 write_turn: AbstractContextManager[Any] | None = None,
                 along: AlongRows | None = None) -> None:
        self.engine = engine
        # taken around each commit, shared with the request audit (``api.app.write_turn``)
        self.write_turn = write_turn or nullcontext()
        # The request audit's pending rows, written in each batch's transaction. In a commit of
        # their own after each batch, they cost the writer a second commit, made while the loop
        # was busy answering (so waiting for the interpreter at every row): 3.5 ms against 0.8
        # for the events. Left to the audit's timer alone, 400 rows at a time held the write turn
        # for 15 to 25 ms, which every event request waiting for it added to its latency.
        self.along = along
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
                for _ in range(GATHER_TURNS):
                    await asyncio.sleep(0)
                batch = self._take()
                if len(batch) == 1 or not await self._commit_together(batch):
                    for item in batch:
                        await self._commit_alone(item)

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
        batch: list[_Pending] = []
        count = 0
        while self._pending and (not batch or count + len(self._pending[0].events) <= MAX_EVENTS_PER_COMMIT):
            item = self._pending.popleft()
            batch.append(item)
            count += len(item.events)
        return batch

    def _store(self, events: list[Event]) -> list[Accepted]:
        riding = self.along.ride() if self.along is not None else nullcontext(_no_rows)
        with self.write_turn, riding as write_along, session_scope(self.engine) as session:
            accepted = accept_events(session, events)
            write_along(session)
        if self.after_store is not None:
            self.after_store()
        return accepted


def _no_rows(session: Session) -> None:
    return None
