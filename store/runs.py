"""The SQL that moves runs and steps along their life cycle (``store.run_lifecycle``).

Hot statements are core ``UPDATE ... RETURNING`` on plain rows: building ORM
objects for every step was most of a step's time. Every UPDATE's ``WHERE
status IN (...)`` comes from the transition table, so a row only moves along
an allowed edge, whoever else touched it meanwhile.

A running step holds a *lease* (``lease_until``) that its worker renews while
the call runs; the attempt number is the claim's fence: a record from a
worker whose lease lapsed (and whose step was claimed again elsewhere) finds
no row to update.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus, run_sources, step_sources

STEPS = RuleStep.__table__
RUNS = RuleRun.__table__
EVENTS = EventRow.__table__

_CLAIMED_COLUMNS = (STEPS.c.id, STEPS.c.run_id, STEPS.c.position, STEPS.c.fallback_of, STEPS.c.step_key,
                    STEPS.c.action, STEPS.c.attempts, STEPS.c.max_attempts, STEPS.c.idempotency_key)


def _claim_statement(dialect: str) -> Any:
    due = sa.and_(STEPS.c.status.in_(step_sources(StepStatus.RUNNING)),
                  sa.or_(STEPS.c.next_attempt_at.is_(None), STEPS.c.next_attempt_at <= sa.bindparam("now")))
    ids: Any = sa.bindparam("ids", expanding=True)
    if dialect == "postgresql":
        ids = (sa.select(STEPS.c.id).where(STEPS.c.id.in_(ids), due).order_by(STEPS.c.id)
               .with_for_update(skip_locked=True).scalar_subquery())
    return (sa.update(STEPS).where(STEPS.c.id.in_(ids), due)
            .values(status=StepStatus.RUNNING, attempts=STEPS.c.attempts + 1, started_at=sa.bindparam("now"),
                    lease_until=sa.bindparam("lease_until"))
            .returning(*_CLAIMED_COLUMNS))


# Built once: constructing SQLAlchemy statements cost more than running them on the hot path.
_CLAIM = {dialect: _claim_statement(dialect) for dialect in ("postgresql", "sqlite")}


def claim_steps(session: Session, step_ids: Sequence[str], now: datetime, lease: timedelta) -> Sequence[Any]:
    """Queued, due steps among ``step_ids`` become ``running`` under a lease; their plain rows.

    On PostgreSQL the rows are locked in id order and locked ones skipped, so two
    workers claiming overlapping batches neither deadlock nor wait on each other.
    """
    dialect = session.get_bind().dialect.name
    statement = _CLAIM[dialect] if dialect in _CLAIM else _claim_statement(dialect)
    return session.execute(statement, {"ids": sorted(step_ids), "now": now, "lease_until": now + lease}).all()


_RUNS_OF = (
    sa.select(RUNS.c.id, RUNS.c.rule_id, RUNS.c.status, EVENTS.c.type, EVENTS.c.id.label("event_id"),
              EVENTS.c.occurred_at, EVENTS.c.source, EVENTS.c.payload)
    .join(EVENTS, EVENTS.c.id == RUNS.c.event_id)
    .where(RUNS.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def runs_of(session: Session, run_ids: Iterable[str]) -> Sequence[Any]:
    """The runs (with their events) that claimed steps belong to, as plain rows."""
    return session.execute(_RUNS_OF, {"ids": list(set(run_ids))}).all()


_START_RUNS = (sa.update(RUNS).where(RUNS.c.id.in_(sa.bindparam("ids", expanding=True)),
                                     RUNS.c.status.in_(run_sources(RunStatus.RUNNING)))
               .values(status=RunStatus.RUNNING, started_at=sa.bindparam("now")))


def start_runs(session: Session, run_ids: Sequence[str], now: datetime) -> None:
    if run_ids:
        session.execute(_START_RUNS, {"ids": list(run_ids), "now": now})


_RENEW = (sa.update(STEPS).where(STEPS.c.id == sa.bindparam("step_id"), STEPS.c.attempts == sa.bindparam("n"),
                                 STEPS.c.status == StepStatus.RUNNING)
          .values(lease_until=sa.bindparam("lease_until")))


def renew_leases(session: Session, fenced: Sequence[tuple[str, int]], lease_until: datetime) -> int:
    """Extend the leases of steps this worker still runs (id and claimed attempt)."""
    if not fenced:
        return 0
    result = cast("sa.CursorResult[Any]",  # an UPDATE gives a cursor result
                  session.execute(_RENEW, [{"step_id": step_id, "n": attempt, "lease_until": lease_until}
                                           for step_id, attempt in fenced]))
    return result.rowcount or 0


# only the claim that is still ours: running, at the attempt this worker claimed
_FINISH_STEPS = (
    sa.update(STEPS).where(STEPS.c.id == sa.bindparam("step_id"), STEPS.c.attempts == sa.bindparam("n"),
                           STEPS.c.status == StepStatus.RUNNING)
    .values(status=sa.bindparam("new_status"), finished_at=sa.bindparam("now"),
            params=sa.bindparam("new_params"), output=sa.bindparam("new_output"), last_error=None,
            error_code=None, lease_until=None)
)
_FINISH_STEP = _FINISH_STEPS.returning(*_CLAIMED_COLUMNS)


def finish_step(session: Session, step_id: str, attempt: int, status: StepStatus, now: datetime,
                params: dict[str, Any], output: dict[str, Any]) -> Any | None:
    """A claimed step succeeded or was skipped; ``None`` when the claim is no longer ours."""
    return session.execute(_FINISH_STEP, {"step_id": step_id, "n": attempt, "new_status": status, "now": now,
                                          "new_params": params, "new_output": output}).one_or_none()


_FINISHED_BY_US = sa.select(STEPS.c.id).where(STEPS.c.id.in_(sa.bindparam("ids", expanding=True)),
                                              STEPS.c.finished_at == sa.bindparam("now"),
                                              STEPS.c.lease_until.is_(None),
                                              STEPS.c.status.in_((StepStatus.SUCCEEDED, StepStatus.SKIPPED)))


Finished = tuple[str, int, StepStatus, dict[str, Any], dict[str, Any]]  # id, attempt, status, params, output


def finish_steps(session: Session, done: Sequence[Finished], now: datetime) -> set[str]:
    """Several claimed steps succeeded (or were skipped): one executemany; the ids that were still ours.

    A step whose claim was taken back meanwhile keeps the newer claim's row; ``now`` (this
    record's time) tells our rows from it.
    """
    session.execute(_FINISH_STEPS, [{"step_id": step_id, "n": attempt, "new_status": status, "now": now,
                                     "new_params": params, "new_output": output}
                                    for step_id, attempt, status, params, output in done])
    return set(session.execute(_FINISHED_BY_US, {"ids": [d[0] for d in done], "now": now}).scalars())


_FINISH_RUNS = {
    status: sa.update(RUNS).where(RUNS.c.id.in_(sa.bindparam("ids", expanding=True)),
                                  RUNS.c.status.in_(run_sources(status)))
    .values(status=status, finished_at=sa.bindparam("now"))
    for status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
}


def finish_runs(session: Session, run_ids: Sequence[str], status: RunStatus, now: datetime) -> None:
    if run_ids:
        session.execute(_FINISH_RUNS[status], {"ids": list(run_ids), "now": now})


_FINISH_RUN = {
    status: sa.update(RUNS).where(RUNS.c.id == sa.bindparam("run_id"), RUNS.c.status.in_(run_sources(status)))
    .values(status=status, finished_at=sa.bindparam("now"))
    for status in (RunStatus.SUCCEEDED, RunStatus.FAILED)
}


def finish_run(session: Session, run_id: str, status: RunStatus, now: datetime) -> None:
    session.execute(_FINISH_RUN[status], {"run_id": run_id, "now": now})


def take_back_lapsed(session: Session, now: datetime, limit: int = 1000) -> list[str]:
    """Running steps whose lease lapsed (their worker died or lost the database) are queued again."""
    lapsed = (sa.select(STEPS.c.id).where(STEPS.c.status == StepStatus.RUNNING, STEPS.c.lease_until < now)
              .order_by(STEPS.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        lapsed = lapsed.with_for_update(skip_locked=True)
    ids = list(session.execute(lapsed).scalars())
    if ids:
        session.execute(sa.update(STEPS).where(STEPS.c.id.in_(ids), STEPS.c.status == StepStatus.RUNNING)
                        .values(status=StepStatus.QUEUED, next_attempt_at=None, queued_at=now,
                                lease_until=None))
    return ids


def forgotten_queued(session: Session, now: datetime, older_than: timedelta,
                     limit: int = 1000) -> Sequence[Any]:
    """Due steps left ``queued`` longer than ``older_than``: their message was lost. Marked as re-sent."""
    rows = session.execute(
        sa.select(STEPS.c.id, STEPS.c.next_attempt_at)
        .where(STEPS.c.status == StepStatus.QUEUED, STEPS.c.queued_at < now - older_than,
               sa.or_(STEPS.c.next_attempt_at.is_(None), STEPS.c.next_attempt_at <= now))
        .order_by(STEPS.c.id).limit(limit)
    ).all()
    if rows:
        session.execute(sa.update(STEPS).where(STEPS.c.id.in_([row.id for row in rows]))
                        .values(queued_at=now))
    return rows


def requeue_all_running(session: Session) -> None:
    """An embedded daemon starting: no other process can hold these leases."""
    session.execute(sa.update(STEPS).where(STEPS.c.status == StepStatus.RUNNING)
                    .values(status=StepStatus.QUEUED, next_attempt_at=None, lease_until=None))


def queued_steps(session: Session) -> Sequence[Any]:
    return session.execute(sa.select(STEPS.c.id, STEPS.c.next_attempt_at)
                           .where(STEPS.c.status == StepStatus.QUEUED)).all()
