"""Prometheus metrics of the engine in this process: connector calls, step outcomes per rule, backlogs.

One registry per process (``REGISTRY``): the workers of a process share it. The API's
``/metrics`` adds it to the HTTP metrics; a ``despacho worker`` process without the API
serves it on ``execution.metrics_port``. Backlogs are read from the database when scraped
(``BacklogCollector``), so every process reports the same shared queues.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from errors import PermanentError, TransientError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from prometheus_client.metrics_core import Metric

T = TypeVar("T")
REGISTRY = CollectorRegistry()
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CONNECTOR_CALLS = Counter(
    "despacho_connector_calls_total", "Connector calls by connector, action and outcome "
    "(succeeded, transient, permanent, error: an unexpected exception)",
    ["connector", "action", "outcome"], registry=REGISTRY)
CONNECTOR_SECONDS = Histogram(
    "despacho_connector_call_duration_seconds", "Time of each connector call, whatever its outcome",
    ["connector", "action"], buckets=_CALL_BUCKETS, registry=REGISTRY)
STEP_OUTCOMES = Counter(
    "despacho_rule_steps_total", "Steps recorded by rule and the status they got "
    "(succeeded, skipped, retrying, failed, dead, held...)", ["rule", "status"], registry=REGISTRY)


@cache
def _child(metric: Counter | Histogram, *labels: str) -> Any:
    """A metric's child for these labels, kept: ``labels()`` validates and locks on every call, a
    measurable part of an embedded step's time. Children are never removed from these metrics."""
    return metric.labels(*labels)


def timed_call(connector: str, action: str, call: Callable[[], T]) -> T:
    """Run one connector call, counting it by outcome and timing it."""
    started = time.perf_counter()
    outcome = "error"
    try:
        result = call()
        outcome = "succeeded"
        return result
    except PermanentError:
        outcome = "permanent"
        raise
    except TransientError:
        outcome = "transient"
        raise
    finally:
        _child(CONNECTOR_CALLS, connector, action, outcome).inc()
        _child(CONNECTOR_SECONDS, connector, action).observe(time.perf_counter() - started)


def step_recorded(rule_id: str, status: str | None) -> None:
    if status is not None:
        _child(STEP_OUTCOMES, rule_id, status).inc()


class BacklogCollector(Collector):
    """Queue depths read from the database at each scrape: the truth every process shares."""

    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        from store.queries.backlog import backlog_counts

        try:
            counts = backlog_counts(self.db)
        except Exception:  # a scrape during an outage reports nothing rather than failing the page
            return
        events = GaugeMetricFamily("despacho_relay_backlog_events",
                                   "Stored events the relay has not planned yet")
        events.add_metric([], counts.undispatched_events)
        yield events
        steps = GaugeMetricFamily("despacho_steps", "Steps by status (queued and running are the work queue)",
                                  labels=["status"])
        for status, count in sorted(counts.steps.items()):
            steps.add_metric([status], count)
        yield steps
        dead = GaugeMetricFamily("despacho_dead_letters_open", "Dead letters nobody has resolved yet")
        dead.add_metric([], counts.open_dead_letters)
        yield dead
        oldest = GaugeMetricFamily("despacho_relay_backlog_oldest_seconds",
                                   "Age of the oldest event the relay has not planned (0: none)")
        oldest.add_metric([], counts.oldest_undispatched_seconds)
        yield oldest


def watch_backlog(registry: CollectorRegistry, db: sa.Engine) -> BacklogCollector:
    collector = BacklogCollector(db)
    registry.register(collector)
    return collector
