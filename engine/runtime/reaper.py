"""The reaper: steps whose worker died or whose message was lost are sent again.

A running step whose lease lapsed (its worker stopped renewing it: killed,
frozen, or cut off from the database) is queued again; a due step left
``queued`` longer than ``queued_timeout`` lost its message (a broker restart,
a send that failed after the commit) and is sent again. Claims are
idempotent, so a step sent twice still runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from engine.runtime.outbox import Outbox
from store.runs import forgotten_queued, queued_steps, requeue_all_running, take_back_lapsed
from store.types import utcnow

log = structlog.get_logger("despacho.reaper")


@dataclass(frozen=True)
class _Resend:
    id: str
    next_attempt_at: None = None


class Reaper:
    def __init__(self, outbox: Outbox, queued_timeout: timedelta) -> None:
        self.outbox = outbox
        self.queued_timeout = queued_timeout

    def recover(self) -> int:
        """At the start of an embedded daemon: running steps are ours again, queued ones are resent."""
        with self.outbox.transaction() as tx:
            requeue_all_running(tx.session)
            pending = queued_steps(tx.session)
            tx.send_after_commit(pending)
        if pending:
            log.info("steps_recovered", count=len(pending))
        return len(pending)

    def reap_once(self) -> int:
        """Take back steps whose lease lapsed; send again due steps left ``queued``."""
        now = utcnow()
        with self.outbox.transaction() as tx:
            taken_back = take_back_lapsed(tx.session, now)
            forgotten = forgotten_queued(tx.session, now, self.queued_timeout)
            tx.send_after_commit([_Resend(step_id) for step_id in taken_back], urgent=True)
            tx.send_after_commit(forgotten)  # plain rows: an id and a due next_attempt_at
        if taken_back or forgotten:
            log.warning("steps_requeued", lease_lapsed=len(taken_back), queued=len(forgotten))
        return len(taken_back) + len(forgotten)
