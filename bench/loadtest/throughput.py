"""Throughput and latency against raw Dramatiq in the same run; the scale-out curve (1, 2, 4 workers).

Throughput: N worker processes x 8 threads are started and waited for (each beating in Redis),
then ``events`` are stored in bulk (a burst: 1,000 per transaction) and drained; events/s is the
count over the span from the first step started to the last finished. The baseline is the same
count of raw Dramatiq messages (``raw``) drained by
the same number of processes and threads, measured the same way.

Latency: with the workers running, events stored at a steady ``latency_rate``/s for
``latency_seconds``, each in its own batch of 100 ms; latency is event recorded -> step finished
(the vendor answered and the outcome is recorded). Baseline: message sent -> row inserted after the
vendor answered, at the same rate.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.loadtest.harness import (
    CpuMeter,
    Feeder,
    Services,
    Verdict,
    Workers,
    drain_span,
    latencies_ms,
    load_average,
    make_project,
    percentile,
    store_backlog,
    verify,
    wait_consuming,
    wait_succeeded,
    warnings_text,
)
from bench.loadtest.raw import RawWorkers


@dataclass
class Drain:
    workers: int
    events: int
    per_second: float
    stored_per_second: float
    latencies: list[float]
    verdict: Verdict | None
    load: str
    cpu_ms: float = 0.0  # worker processes' CPU per event
    pg_cpu_ms: float = 0.0  # PostgreSQL backends' CPU per event


def despacho_drain(services: Services, events: int, workers: int, latency_rate: float = 0,
                   latency_seconds: float = 0) -> Drain:
    project = make_project(services)
    pool = Workers(project)
    try:
        pool.start(workers)
        wait_consuming(services.redis.url, project.namespace, workers)
        meter = CpuMeter(pool.pids, services.pg.postmaster_pid())
        stored = store_backlog(project, events, "bulk-")
        wait_succeeded(project, events, timeout=max(600, events / 20))
        cpu, pg_cpu = meter.stop()
        span = drain_span(project)
        latencies: list[float] = []
        total = events
        if latency_rate and latency_seconds:
            feeder = Feeder(project, latency_rate, latency_seconds, "lat-")
            feeder.start()
            feeder.join()
            total += feeder.fed
            wait_succeeded(project, total, timeout=300)
            latencies = latencies_ms(project, "lat-")
        verdict = verify(project, total)
        return Drain(workers, events, events / span, stored, latencies, verdict, load_average(),
                     cpu * 1000 / events, pg_cpu * 1000 / events)
    finally:
        pool.stop()
        project.drop()


def raw_drain(services: Services, events: int, workers: int, latency_rate: float = 0,
              latency_seconds: float = 0) -> Drain:
    project = make_project(services)  # a database for the baseline's rows; no despacho process runs
    raw = RawWorkers(services.redis.url, services.vendor_url, project.dsn, workers)
    try:
        raw.start()
        wait_consuming(services.redis.url, raw.namespace, workers)
        meter = CpuMeter([p.pid for p in raw.processes if p.pid], services.pg.postmaster_pid())
        started = time.perf_counter()
        for index in range(events):
            raw.send(f"bulk-{index}")
        sent = events / (time.perf_counter() - started)
        raw.wait(events, timeout=max(600, events / 20))
        cpu, pg_cpu = meter.stop()
        span = raw.span()
        latencies: list[float] = []
        if latency_rate and latency_seconds:
            total = int(latency_rate * latency_seconds)
            begin = time.perf_counter()
            for index in range(total):
                pause = begin + index / latency_rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                raw.send(f"lat-{index}")
            raw.wait(events + total, timeout=300)
            latencies = raw.latencies_ms("lat-")
        return Drain(workers, events, events / span, sent, latencies, None, load_average(),
                     cpu * 1000 / events, pg_cpu * 1000 / events)
    finally:
        raw.stop()
        project.drop()


@dataclass
class Throughput:
    ours: Drain
    raw: Drain
    latency_rate: float

    def markdown(self) -> str:
        ours, raw = self.ours, self.raw
        v = ours.verdict
        assert v is not None
        lines = [
            f"### Throughput: {ours.events:,} events, Redis + PostgreSQL, {ours.workers} worker processes "
            "x 8 threads",
            "",
            f"| | events/s (drain) | p50 ms | p99 ms (at {self.latency_rate:g}/s) | worker CPU ms/event | "
            "PostgreSQL CPU ms/event | load average after |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| despacho (`despacho worker` x {ours.workers}) | {ours.per_second:,.0f} | "
            f"{statistics.median(ours.latencies) if ours.latencies else float('nan'):.1f} | "
            f"{percentile(ours.latencies, 0.99):.1f} | {ours.cpu_ms:.2f} | {ours.pg_cpu_ms:.2f} | "
            f"{ours.load} |",
            f"| raw Dramatiq (same Redis, HTTP call + 1 row) | {raw.per_second:,.0f} | "
            f"{statistics.median(raw.latencies) if raw.latencies else float('nan'):.1f} | "
            f"{percentile(raw.latencies, 0.99):.1f} | {raw.cpu_ms:.2f} | {raw.pg_cpu_ms:.2f} | {raw.load} |",
            f"| ratio despacho / raw | {ours.per_second / raw.per_second:.2f} | | "
            f"{percentile(ours.latencies, 0.99) / percentile(raw.latencies, 0.99):.2f} | "
            f"{ours.cpu_ms / raw.cpu_ms:.2f} | {ours.pg_cpu_ms / raw.pg_cpu_ms:.2f} | |",
            "",
            f"Stored (backlog, 1,000 per transaction): {ours.stored_per_second:,.0f} events/s; raw Dramatiq "
            f"enqueue one by one: {raw.stored_per_second:,.0f} msg/s. Correctness: {v.expected:,} events, "
            f"lost {v.lost}, doubled {v.doubled}, keys executed twice {v.executed_twice}, "
            f"dead letters {v.dead_letters}; vendor requests {v.vendor['requests']:,}. Worker warnings: "
            f"{warnings_text(v.warnings)}.",
            "",
        ]
        return "\n".join(lines)


def throughput(services: Services, events: int, workers: int, latency_rate: float,
               latency_seconds: float) -> Throughput:
    raw = raw_drain(services, events, workers, latency_rate, latency_seconds)
    ours = despacho_drain(services, events, workers, latency_rate, latency_seconds)
    return Throughput(ours, raw, latency_rate)


@dataclass
class ScaleOut:
    points: list[tuple[Drain, Drain]]

    def markdown(self) -> str:
        lines = ["### Scale-out: events/s by worker processes (8 threads each), 2 cores", "",
                 "| worker processes | events | despacho events/s | raw Dramatiq msg/s | ratio | "
                 "despacho per process | despacho worker + PostgreSQL CPU ms/event | load average |",
                 "|---:|---:|---:|---:|---:|---:|---:|---|"]
        for ours, raw in self.points:
            lines.append(f"| {ours.workers} | {ours.events:,} | {ours.per_second:,.0f} | "
                         f"{raw.per_second:,.0f} | {ours.per_second / raw.per_second:.2f} | "
                         f"{ours.per_second / ours.workers:,.0f} | "
                         f"{ours.cpu_ms:.2f} + {ours.pg_cpu_ms:.2f} | {ours.load} |")
        bad = [o.verdict for o, _ in self.points if o.verdict and not o.verdict.ok]
        lines += ["", f"Correctness: {bad or 'all events made exactly one effect'}. Worker warnings: "
                  + "; ".join(f"{o.workers} x: {warnings_text(o.verdict.warnings)}"
                              for o, _ in self.points if o.verdict) + ".", ""]
        return "\n".join(lines)


def scale_out(services: Services, events: int, counts: tuple[int, ...] = (1, 2, 4)) -> ScaleOut:
    return ScaleOut([(despacho_drain(services, events, n), raw_drain(services, events, n)) for n in counts])
