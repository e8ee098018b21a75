"""The unit of work a webhook writes in: the engine core's when this process has one, else a plain one.

With the core, steps queued in the transaction (a fallback) are sent after it commits and
SQLite writers of this process queue behind one lock; without it (an API-only process)
the reaper sends what was queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from fastapi import Request

from engine.runtime.outbox import Transaction
from store.db import session_scope


def webhook_transaction(request: Request) -> AbstractContextManager[Transaction]:
    ctx = request.app.state.ctx
    if ctx.core is not None:
        transaction: AbstractContextManager[Transaction] = ctx.core.transaction()
        return transaction
    return _plain_transaction(ctx.engine)


@contextmanager
def _plain_transaction(engine: Any) -> Iterator[Transaction]:
    with session_scope(engine) as session:
        yield Transaction(session)
