"""The engine's Prometheus metrics: connector calls by outcome, step outcomes per rule, backlogs, on
both databases; the API's /metrics and a worker's own port serve them."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from engine.runtime.metrics import REGISTRY
from engine.settings import load_settings
from tests.engine.runtime.pipeline_helpers import (
    ScriptedConnector,
    make_driver,
    permanent,
    run_retries_now,
    transient,
)

RULES = """
rules:
  - id: metered
    on: ops.metered
    do:
      - log.write: {message: "first"}
        retry: {attempts: 3, backoff: fixed, delay: 1s}
      - log.write: {message: "second"}
"""


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def calls(outcome: str) -> float:
    return sample("despacho_connector_calls_total", connector="log", action="write", outcome=outcome)


def timed() -> float:
    return sample("despacho_connector_call_duration_seconds_count", connector="log", action="write")


def test_connector_calls_are_counted_by_outcome_and_timed(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    connectors = driver.core.runner.connectors
    connectors["log"] = ScriptedConnector([transient(), None, permanent()], connectors["log"])
    before = {outcome: calls(outcome) for outcome in ("succeeded", "transient", "permanent")}
    timed_before = timed()
    steps = {status: sample("despacho_rule_steps_total", rule="metered", status=status)
             for status in ("queued", "succeeded", "dead")}

    driver.emit("ops.metered", "m1")
    driver.drain()
    run_retries_now(driver)

    for outcome, expected in (("succeeded", 1), ("transient", 1), ("permanent", 1)):
        assert calls(outcome) - before[outcome] == expected, outcome
    assert timed() - timed_before == 3
    # first: retried (queued again), then succeeded; second: failed for good
    assert sample("despacho_rule_steps_total", rule="metered", status="queued") - steps["queued"] == 1
    assert sample("despacho_rule_steps_total", rule="metered", status="succeeded") - steps["succeeded"] == 1
    assert sample("despacho_rule_steps_total", rule="metered", status="dead") - steps["dead"] == 1
    driver.core.close()


def test_the_backlog_counts_what_waits_in_the_database(on_database) -> None:  # type: ignore[no-untyped-def]
    from store.queries.backlog import backlog_counts

    driver = make_driver(on_database(RULES))
    connectors = driver.core.runner.connectors
    connectors["log"] = ScriptedConnector([permanent()], connectors["log"])
    driver.emit("ops.metered", "m1")
    driver.emit("ops.metered", "m2")
    waiting = backlog_counts(driver.core.db)
    driver.core.relay.relay_once()
    planned = backlog_counts(driver.core.db)
    driver.drain()
    drained = backlog_counts(driver.core.db)

    assert (waiting.undispatched_events, planned.undispatched_events) == (2, 0)
    assert waiting.oldest_undispatched_seconds >= 0
    assert planned.steps["queued"] == 2 and planned.steps["pending"] == 2
    assert drained.open_dead_letters == 1 and drained.steps["queued"] == 0
    driver.core.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_worker_process_serves_its_metrics_on_the_configured_port(tmp_path: Path) -> None:
    from commands.ops import serve_worker_metrics

    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"execution: {{metrics_port: {port - 1}}}\n", encoding="utf-8")
    settings = load_settings(str(config), environ={})
    assert serve_worker_metrics(settings, 1) == port  # the second process takes the next port

    page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    names = {family.name for family in text_string_to_metric_families(page)}
    assert {"despacho_connector_calls", "despacho_rule_steps"} <= names
