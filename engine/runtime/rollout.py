"""A new rule set goes into force only when every running daemon can load it.

With several daemons (workers and schedulers on several machines, each with its checkout of
the rules' git repository), a deploy changes the files under each of them at slightly
different times. Each daemon's rule watcher loads the new files (``RuleSetHolder.prepare``)
but does not put them in force; it reports, in ``daemon_rules``, the set in force and the one
offered, loaded or not. On every tick each daemon reads the live rows (seen within ``ttl``):

- every other live daemon runs the offered set, or has loaded it → it goes into force here;
- some live daemon could not load it → it is refused here too (``rules_rejected`` names that
  daemon and its problems), and stays refused until the files change again;
- some live daemon has not been offered it yet (its files are older) → it waits, and says so
  once per set (``rules_waiting``) naming those daemons.

So the daemons switch within a tick or two of each other, and a commit that one of them cannot
load (a missing template on one machine, a connector one of them lacks) changes nothing
anywhere. A daemon that starts takes its files at once: it cannot wait for anybody to run.
A daemon that is gone (no row seen within ``ttl``) does not count; one that stops cleanly
removes its row.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
import structlog
from sqlmodel import Session

from engine.runtime.rulestate import Offered, ReloadResult, RuleSetHolder
from store import daemon_rules
from store.daemon_rules import Candidate, Presence
from store.db import session_scope
from store.models import DaemonRules
from store.types import utcnow

log = structlog.get_logger("despacho.rules")
Decision = Literal["accept", "reject", "wait"]
# a daemon's watcher reports every 2 s: one not seen for this long is gone (killed, or cut off)
DEFAULT_TTL = timedelta(seconds=30)
# a row not seen for this long is a daemon killed, not one cut off for a while: its row is removed
GONE_FOR_GOOD = timedelta(days=1)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    daemons: tuple[str, ...] = ()  # the daemons refusing, or those it waits for
    problems: tuple[str, ...] = ()


def verdict(digest: str, me: str, peers: list[DaemonRules]) -> Verdict:
    """What the live daemons ``peers`` say of the set ``digest`` (see the module's docstring)."""
    refusing, waiting, problems = [], [], []
    for peer in peers:
        if peer.id == me or peer.active_digest == digest:
            continue
        if peer.candidate_digest == digest and peer.candidate_ok:
            continue
        if peer.candidate_digest == digest:
            refusing.append(peer.id)
            problems += [f"{peer.id}: {line}" for line in (peer.candidate_problems or ["cannot load it"])]
        else:
            waiting.append(peer.id)
    if refusing:
        return Verdict("reject", tuple(refusing), tuple(problems))
    if waiting:
        return Verdict("wait", tuple(waiting))
    return Verdict("accept")


class RuleRollout:
    """One daemon's side of the roll-out: report, read the others, decide."""

    def __init__(self, db: sa.Engine, holder: RuleSetHolder, parts: str, *,
                 ttl: timedelta = DEFAULT_TTL) -> None:
        self.db = db
        self.holder = holder
        self.parts = parts
        self.ttl = ttl
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._offered: Offered | None = None
        self._reported: tuple[str, str | None] | None = None  # (active digest, candidate digest) written
        self._waiting_logged: str | None = None

    def offer(self) -> Offered:
        """The files changed (or SIGHUP): load them, to be put in force by ``tick``."""
        self._offered = self.holder.prepare()
        return self._offered

    def tick(self) -> ReloadResult | None:
        """Report, then decide on the pending set; the result when it went into force or was refused."""
        with session_scope(self.db) as session:
            if self._reported is None:  # a daemon starting tidies up after the ones killed long ago
                daemon_rules.forget_gone(session, GONE_FOR_GOOD)
            self._report(session)
            pending = self.holder.pending_digest
            if pending is None:
                return None
            decided = verdict(pending, self.id, daemon_rules.live(session, self.ttl))
        result = self._apply(pending, decided)
        if result is not None:  # the others see the change at once, not on the next tick
            with session_scope(self.db) as session:
                self._report(session)
        return result

    def leave(self) -> None:
        with session_scope(self.db) as session:
            daemon_rules.leave(session, self.id)

    def _report(self, session: Session) -> None:
        state = self.holder.state()
        offered = self._offered
        candidate = (Candidate(offered.digest, offered.version, offered.ok, offered.problems)
                     if offered is not None and offered.digest != state.digest else None)
        now = (state.digest, candidate.digest if candidate else None)
        before = self._reported
        daemon_rules.report(session, Presence(self.id, socket.gethostname(), os.getpid(), self.parts,
                                              state.digest, state.version or state.digest[:12], candidate),
                            active_changed=before is None or before[0] != now[0],
                            candidate_changed=before is None or before[1] != now[1])
        self._reported = now

    def _apply(self, digest: str, decided: Verdict) -> ReloadResult | None:
        if decided.decision == "accept":
            result = self.holder.accept_pending(digest)
            if result is not None:
                self._offered = None
                self._waiting_logged = None
            return result
        if decided.decision == "reject":
            log.error("rules_rejected_by_daemon", digest=digest[:12], daemons=list(decided.daemons),
                      problems=list(decided.problems[:20]))
            self._offered = Offered(digest, self._offered.version if self._offered else digest[:12], False,
                                    decided.problems)
            self._waiting_logged = None
            return self.holder.drop_pending(list(decided.problems))
        if self._waiting_logged != digest:
            log.warning("rules_waiting", digest=digest[:12], waiting_for=list(decided.daemons),
                        hint="each daemon puts the new rules in force once every live daemon has loaded "
                             "them; deploy the same commit to the daemons named")
            self._waiting_logged = digest
        return None


@dataclass(frozen=True)
class DaemonView:
    """One daemon's rules as ``despacho status`` and ``GET /v1/rules/daemons`` show them."""

    id: str
    host: str
    parts: str
    live: bool
    seen_at: datetime
    version: str  # the set in force: its git commit, or sha256:<digest> outside git
    since: datetime
    offered: str | None  # the version its files offer, when it is not the one in force
    offered_state: Literal["waiting", "refused"] | None
    problems: tuple[str, ...]


def daemon_views(session: Session, ttl: timedelta = DEFAULT_TTL) -> list[DaemonView]:
    now = utcnow()
    views = []
    for row in daemon_rules.everyone(session):
        offered_state: Literal["waiting", "refused"] | None = None
        if row.candidate_digest is not None:
            offered_state = "waiting" if row.candidate_ok else "refused"
        views.append(DaemonView(row.id, row.host, row.parts, row.seen_at >= now - ttl, row.seen_at,
                                row.active_version, row.active_since, row.candidate_version, offered_state,
                                tuple(row.candidate_problems or ())))
    return views
