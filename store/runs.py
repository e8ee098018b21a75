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

import json
from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session

from store import runs_sqlite
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus, run_sources, step_sources

STEPS = RuleStep.__table__
RUNS = RuleRun.__table__
EVENTS = EventRow.__table__

# the claimed step's columns, named once (runs_sqlite reads the same ones)
_CLAIMED_COLUMNS = tuple(STEPS.c[name] for name in runs_sqlite.CLAIMED)


def _filter_only(column: Any) -> Any:
    """``column`` for a row-by-row test that no index may drive (``|| ''`` hides it from the planner).

    The hot statements find their rows by primary key and then check the status. The
    planner's statistics lag a burst: with 6,000 steps queued in seconds it still
    believed "queued" rare and walked the status index, every queued row for every
    claim of eight (40 ms a claim, the backlog squared). The status stays the guard.
    """
    return column.concat("")


def _claim_statement(dialect: str) -> Any:
    due = sa.and_(_filter_only(STEPS.c.status).in_(step_sources(StepStatus.RUNNING)),
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


def claim_steps(session: Session | sa.Connection, step_ids: Sequence[str], now: datetime,
                lease: timedelta) -> Sequence[Any]:
    """Queued, due steps among ``step_ids`` become ``running`` under a lease; their plain rows.

    On PostgreSQL the rows are locked in id order and locked ones skipped, so two
    workers claiming overlapping batches neither deadlock nor wait on each other.
    """
    dialect = session.get_bind().dialect.name if isinstance(session, Session) else session.dialect.name
    statement = _CLAIM[dialect] if dialect in _CLAIM else _claim_statement(dialect)
    return session.execute(statement, {"ids": sorted(step_ids), "now": now, "lease_until": now + lease}).all()


def _claim_with_runs_pg() -> Any:
    """Claim, start the runs and read them with their events: one statement, one round trip."""
    claimed = _CLAIM["postgresql"].cte("claimed")
    started = (sa.update(RUNS).where(RUNS.c.id.in_(sa.select(claimed.c.run_id)),
                                     _filter_only(RUNS.c.status).in_(run_sources(RunStatus.RUNNING)))
               .values(status=RunStatus.RUNNING, started_at=sa.bindparam("now")).cte("started"))
    return (sa.select(claimed, RUNS.c.rule_id, EVENTS.c.type, EVENTS.c.id.label("event_id"),
                      EVENTS.c.occurred_at, EVENTS.c.source, EVENTS.c.payload)
            .join_from(claimed, RUNS, RUNS.c.id == claimed.c.run_id)
            .join(EVENTS, EVENTS.c.id == RUNS.c.event_id)
            .add_cte(started).order_by(claimed.c.id))


_CLAIM_WITH_RUNS_PG = _claim_with_runs_pg()


def claim_with_runs(conn: sa.Connection, step_ids: Sequence[str], now: datetime,
                    lease: timedelta) -> Sequence[Any]:
    """``claim_steps``, and the claimed steps' runs started: plain rows of each step with its run and event.

    Each row has the step's columns (``runs_sqlite.CLAIMED``) and ``rule_id``, ``type``,
    ``event_id``, ``occurred_at``, ``source``, ``payload``. On PostgreSQL this is one
    statement (so ``conn`` may be in autocommit); elsewhere ``conn`` must be in a transaction.
    """
    if conn.dialect.name == "postgresql":
        values = {"ids": sorted(step_ids), "now": now, "lease_until": now + lease}
        return conn.execute(_CLAIM_WITH_RUNS_PG, values).all()
    claimed = runs_sqlite.claim_with_runs(conn, step_ids, now, lease)
    return [ClaimedStep(*step, *run) for step, run in claimed]


# A claimed step's plain row: the step's columns, then its run's rule and event (what PostgreSQL's
# claim returns). The embedded relay builds the same rows for the steps it claims as it plans them.
ClaimedStep = namedtuple("ClaimedStep", [*runs_sqlite.CLAIMED, *runs_sqlite.RUN_FIELDS])  # type: ignore[misc]  # field names built from the column lists


_RENEW = (sa.update(STEPS).where(STEPS.c.id == sa.bindparam("step_id"), STEPS.c.attempts == sa.bindparam("n"),
                                 _filter_only(STEPS.c.status) == StepStatus.RUNNING)
          .values(lease_until=sa.bindparam("lease_until")))


# PostgreSQL: one statement that skips the rows another statement holds. A row locked is being
# recorded or taken back this moment, either of which ends its lease; waiting for it made the
# renewal (rows locked one by one in a pipeline's implicit transaction) deadlock with a record.
_RENEW_PG = sa.text(f"""
UPDATE rule_steps AS s SET lease_until = :lease_until
FROM (SELECT r.id FROM rule_steps AS r
      JOIN json_to_recordset(CAST(:rows AS json)) AS v(id varchar, n integer)
        ON r.id = v.id AND r.attempts = v.n
      WHERE r.id = ANY(CAST(:ids AS varchar[])) AND r.status || '' = '{StepStatus.RUNNING.value}'
      FOR UPDATE OF r SKIP LOCKED) AS held
WHERE s.id = held.id
""")


def renew_leases(session: Session, fenced: Sequence[tuple[str, int]], lease_until: datetime) -> int:
    """Extend the leases of steps this worker still runs (id and claimed attempt); how many it extended."""
    if not fenced:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        rows = json.dumps([{"id": step_id, "n": attempt} for step_id, attempt in sorted(fenced)])
        renewed = session.execute(_RENEW_PG, {"rows": rows, "ids": sorted(step_id for step_id, _ in fenced),
                                              "lease_until": lease_until})
    else:
        renewed = session.execute(_RENEW, [{"step_id": step_id, "n": attempt, "lease_until": lease_until}
                                           for step_id, attempt in sorted(fenced)])
    return cast("sa.CursorResult[Any]", renewed).rowcount or 0  # an UPDATE gives a cursor result


# only the claim that is still ours: running, at the attempt this worker claimed
_FINISH_STEPS = (
    sa.update(STEPS).where(STEPS.c.id == sa.bindparam("step_id"), STEPS.c.attempts == sa.bindparam("n"),
                           _filter_only(STEPS.c.status) == StepStatus.RUNNING)
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


Finished = tuple[str, int, StepStatus, dict[str, Any], dict[str, Any]]  # id, attempt, status, params, output


# Successes that end their runs, on PostgreSQL: the steps and their runs finished in one statement.
# (``status || ''``: found by id, the status only checked; see ``_filter_only``.) The steps travel as one
# JSON document: psycopg escaped every element of per-column arrays in Python, a tenth of a worker's time.
# ``id = ANY(:ids)`` as well: the planner takes a JSON document for 100 rows, and with the id test only
# in the join it scanned the whole table; with the ids it knows how few rows the primary key gives.
_RUN_ENDING_SOURCES = runs_sqlite.sql_list(run_sources(RunStatus.SUCCEEDED))
_FINISH_ENDING_PG = sa.text(f"""
WITH done AS (
    UPDATE rule_steps AS s
    SET status = v.status, finished_at = :now, params = CAST(v.params AS json),
        output = CAST(v.output AS json), last_error = NULL, error_code = NULL, lease_until = NULL
    FROM json_to_recordset(CAST(:rows AS json)) AS v(id varchar, n integer, status varchar, params json,
                                                       output json)
    WHERE s.id = ANY(CAST(:ids AS varchar[])) AND s.id = v.id AND s.attempts = v.n
      AND s.status || '' = :running
    RETURNING s.id, s.run_id
), ended AS (
    UPDATE rule_runs SET status = :succeeded, finished_at = :now
    WHERE id IN (SELECT run_id FROM done) AND status || '' IN ({_RUN_ENDING_SOURCES})
)
SELECT id FROM done
""")


def finish_ending_steps(conn: sa.Connection, done: Sequence[Finished], now: datetime) -> set[str]:
    """Claimed steps whose success ends their runs: steps and runs finished; the ids still ours.

    On PostgreSQL one statement (``conn`` may be in autocommit); elsewhere ``conn`` must be in
    a transaction.
    """
    if not done:
        return set()
    if conn.dialect.name != "postgresql":
        return runs_sqlite.finish_ending_steps(conn, done, now)
    rows = [{"id": step_id, "n": attempt, "status": str(status), "params": params, "output": output}
            for step_id, attempt, status, params, output in sorted(done, key=lambda d: d[0])]
    return set(conn.execute(_FINISH_ENDING_PG, {
        "rows": json.dumps(rows), "ids": [row["id"] for row in rows], "now": now,
        "running": StepStatus.RUNNING.value,
        "succeeded": RunStatus.SUCCEEDED.value,
    }).scalars())


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
    """Due steps left ``queued`` longer than ``older_than``: their message was lost. Marked as re-sent.

    The mark is the claim: only the rows this UPDATE still finds old are returned, so reapers
    running at once (one per worker) send each step once per ``older_than``, not once each.
    """
    cutoff = now - older_than
    due = sa.or_(STEPS.c.next_attempt_at.is_(None), STEPS.c.next_attempt_at <= now)
    candidates = (sa.select(STEPS.c.id)
                  .where(STEPS.c.status == StepStatus.QUEUED, STEPS.c.queued_at < cutoff, due)
                  .order_by(STEPS.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        # rows another reaper or a worker holds are theirs this pass: skipped, never waited for
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.execute(candidates).scalars())
    if not ids:
        return []
    claimed = session.execute(
        sa.update(STEPS).where(STEPS.c.id.in_(ids), STEPS.c.status == StepStatus.QUEUED,
                               STEPS.c.queued_at < cutoff)
        .values(queued_at=now).returning(STEPS.c.id, STEPS.c.next_attempt_at))
    return sorted(claimed.all(), key=lambda row: row.id)


def requeue_all_running(session: Session) -> None:
    """An embedded daemon starting: no other process can hold these leases."""
    session.execute(sa.update(STEPS).where(STEPS.c.status == StepStatus.RUNNING)
                    .values(status=StepStatus.QUEUED, next_attempt_at=None, lease_until=None))


def queued_steps(session: Session) -> Sequence[Any]:
    return session.execute(sa.select(STEPS.c.id, STEPS.c.next_attempt_at)
                           .where(STEPS.c.status == StepStatus.QUEUED)).all()
