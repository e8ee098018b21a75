"""The step runner's claim and record on SQLite, as plain SQL on the driver's connection.

The embedded default runs every step's claim and record in one process, under
the GIL: SQLAlchemy's part of the four statements of a record (an expanding
``IN`` is compiled again on every call) cost more than SQLite's own work,
and most of a step's time. Here each is one or two statements whose text is
built once; the ids and rows travel as one JSON document read by ``json_each``.
(``UPDATE ... FROM`` needs SQLite 3.33, older than the 3.35 ``RETURNING`` already needed.)

Values go in and come out through the columns' own types (``store.driver``).
Same transitions as ``store.runs``: the status guards come
from ``store.run_lifecycle``; the caller's connection must be in a transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from store.driver import Processor, bind_processor, driver_connection, result_processor
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus, run_sources, step_sources

STEPS = RuleStep.__table__
RUNS = RuleRun.__table__
EVENTS = EventRow.__table__

CLAIMED = ("id", "run_id", "position", "fallback_of", "step_key", "action", "attempts", "max_attempts",
           "idempotency_key", "not_before", "hold_reason")
RUN_FIELDS = ("rule_id", "type", "event_id", "occurred_at", "source", "payload")


def sql_list(statuses: Any) -> str:
    """Statuses as an SQL list of literals, for the guards written into the statements' text."""
    return ", ".join(f"'{status.value}'" for status in sorted(statuses))


# ``status || ''``: found by id, the status only checked (see store.runs._filter_only)
_CLAIM = f"""
UPDATE rule_steps
SET status = '{StepStatus.RUNNING.value}', attempts = attempts + 1, started_at = :now,
    lease_until = :lease_until
WHERE id IN (SELECT value FROM json_each(:ids))
  AND status || '' IN ({sql_list(step_sources(StepStatus.RUNNING))})
  AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
RETURNING {", ".join(CLAIMED)}
"""

_RUNS_OF = """
SELECT r.id, r.rule_id, e.type, e.id, e.occurred_at, e.source, e.payload
FROM rule_runs AS r JOIN events AS e ON e.id = r.event_id
WHERE r.id IN (SELECT value FROM json_each(:ids))
"""

_START_RUNS = f"""
UPDATE rule_runs SET status = '{RunStatus.RUNNING.value}', started_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
  AND status || '' IN ({sql_list(run_sources(RunStatus.RUNNING))})
"""

# each row: [id, attempt, status, params as JSON text, output as JSON text]
_FINISH_ENDING = f"""
UPDATE rule_steps
SET status = v.status, finished_at = :now, params = v.params, output = v.output,
    last_error = NULL, error_code = NULL, lease_until = NULL
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS n,
             json_extract(value, '$[2]') AS status, json_extract(value, '$[3]') AS params,
             json_extract(value, '$[4]') AS output
      FROM json_each(:rows)) AS v
WHERE rule_steps.id = v.id AND rule_steps.attempts = v.n
  AND rule_steps.status || '' = '{StepStatus.RUNNING.value}'
RETURNING rule_steps.id, rule_steps.run_id
"""

_FINISH_RUNS = f"""
UPDATE rule_runs SET status = '{RunStatus.SUCCEEDED.value}', finished_at = :now
WHERE id IN (SELECT value FROM json_each(:ids))
  AND status || '' IN ({sql_list(run_sources(RunStatus.SUCCEEDED))})
"""


def claim_with_runs(conn: sa.Connection, step_ids: Sequence[str], now: datetime,
                    lease: timedelta) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Claim the queued, due steps among ``step_ids`` and start their runs: (step, run) value pairs.

    A step is in ``CLAIMED`` order, its run (with the event) in ``RUN_FIELDS`` order.
    """
    cursor = driver_connection(conn)
    types = _converters(conn.dialect)
    claimed = cursor.execute(_CLAIM, {"ids": json.dumps(step_ids), "now": types.stamp(now),
                                      "lease_until": types.stamp(now + lease)}).fetchall()
    if not claimed:
        return []
    steps = sorted((_converted(row, types.claimed) for row in claimed), key=lambda step: step[0])
    run_ids = json.dumps(sorted({step[1] for step in steps}))
    runs = {row[0]: _converted(row[1:], types.run)
            for row in cursor.execute(_RUNS_OF, {"ids": run_ids}).fetchall()}
    cursor.execute(_START_RUNS, {"ids": run_ids, "now": types.stamp(now)})
    return [(step, runs[step[1]]) for step in steps]


def finish_ending_steps(conn: sa.Connection, done: Sequence[tuple[str, int, StepStatus, Any, Any]],
                        now: datetime) -> set[str]:
    """Run-ending successes: the steps and their runs finished; the step ids that were still ours."""
    cursor = driver_connection(conn)
    types = _converters(conn.dialect)
    rows = [[step_id, attempt, str(status), types.params(p), types.output(o)]
            for step_id, attempt, status, p, o in done]
    at = types.stamp(now)
    finished = cursor.execute(_FINISH_ENDING, {"rows": json.dumps(rows), "now": at}).fetchall()
    if finished:
        run_ids = json.dumps(sorted({run_id for _, run_id in finished}))
        cursor.execute(_FINISH_RUNS, {"ids": run_ids, "now": at})
    return {step_id for step_id, _ in finished}


def _converted(row: Sequence[Any], processors: tuple[Processor | None, ...]) -> tuple[Any, ...]:
    return tuple(value if process is None else process(value) for value, process in zip(row, processors,
                                                                                          strict=True))


@dataclass(frozen=True)
class _Converters:
    stamp: Processor  # a timestamp bound
    params: Processor  # rule_steps.params bound
    output: Processor  # rule_steps.output bound
    claimed: tuple[Processor | None, ...]  # a claimed step's values read, in CLAIMED order
    run: tuple[Processor | None, ...]  # its run's values read, in RUN_FIELDS order


@lru_cache(maxsize=64)  # per engine's dialect
def _converters(dialect: sa.Dialect) -> _Converters:
    run_columns = (RUNS.c.rule_id, EVENTS.c.type, EVENTS.c.id, EVENTS.c.occurred_at, EVENTS.c.source,
                   EVENTS.c.payload)
    return _Converters(stamp=bind_processor(dialect, STEPS.c.started_at.type),
                       params=bind_processor(dialect, STEPS.c.params.type),
                       output=bind_processor(dialect, STEPS.c.output.type),
                       claimed=tuple(result_processor(dialect, STEPS.c[name].type) for name in CLAIMED),
                       run=tuple(result_processor(dialect, column.type) for column in run_columns))
