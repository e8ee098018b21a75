"""The soak: a steady rate for minutes; memory of each process flat, no growing queue, no leaked connections.

Every ``interval`` s the sampler notes each worker's RSS (``/proc/<pid>/status``), the vendor's and
redis-server's, the Redis queue length, the unfinished events and the database's connections
(``pg_stat_activity``). Slopes are least-squares fits in MiB (or items) per hour over the second
half of the run (the first half includes warm-up: imports, pools, caches filling).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.loadtest.harness import (
    Feeder,
    Sample,
    Sampler,
    Services,
    Verdict,
    Workers,
    load_average,
    make_project,
    slope_per_hour,
    verify,
    wait_succeeded,
)


@dataclass
class Soak:
    minutes: float
    rate: float
    workers: int
    samples: list[Sample]
    verdict: Verdict
    load: str

    def _half(self) -> list[Sample]:
        middle = self.samples[0].at + (self.samples[-1].at - self.samples[0].at) / 2
        return [s for s in self.samples if s.at >= middle]

    def markdown(self) -> str:
        half = self._half()
        names = sorted({name for s in self.samples for name in s.rss})
        lines = [f"### Soak: {self.minutes:g} minutes at {self.rate:g} events/s, "
                 f"{self.workers} worker processes", "",
                 "| process | first | last | max | slope, second half (per hour) | "
                 "slope, whole run (per hour) |",
                 "|---|---:|---:|---:|---:|---:|"]
        for name in names:
            values = [(s.at, s.rss[name]) for s in self.samples if name in s.rss]
            late = [(s.at, s.rss[name]) for s in half if name in s.rss]
            lines.append(f"| {name} RSS (MiB) | {values[0][1]:.1f} | {values[-1][1]:.1f} | "
                         f"{max(v for _, v in values):.1f} | {slope_per_hour(late):+.1f} MiB | "
                         f"{slope_per_hour(values):+.1f} MiB |")
        for label, attr in (("Redis queue (messages)", "queue"), ("unfinished events", "backlog"),
                            ("PostgreSQL connections", "connections")):
            values = [(s.at, float(getattr(s, attr))) for s in self.samples if getattr(s, attr) >= 0]
            late = [(s.at, float(getattr(s, attr))) for s in half if getattr(s, attr) >= 0]
            lines.append(f"| {label} | {values[0][1]:.0f} | {values[-1][1]:.0f} | "
                         f"{max(v for _, v in values):.0f} | {slope_per_hour(late):+.1f} | "
                         f"{slope_per_hour(values):+.1f} |")
        v = self.verdict
        lines += ["", f"{len(self.samples)} samples. Correctness: {v.expected:,} events, lost {v.lost}, "
                  f"doubled {v.doubled}, dead letters {v.dead_letters}. Load average at the end: "
                  f"{self.load}.", ""]
        return "\n".join(lines)


def soak(services: Services, minutes: float, rate: float, workers: int,
         interval: float | None = None) -> Soak:
    project = make_project(services)
    pool = Workers(project)
    try:
        pool.start(workers)
        time.sleep(3)
        processes = {f"worker {i + 1}": pid for i, pid in enumerate(pool.pids)}
        processes["redis-server"] = services.redis.pid or 0
        if services.vendor_process:
            processes["vendor"] = services.vendor_process.pid
        every = interval or max(1.0, min(10.0, minutes))  # about 60 samples, at most one each 10 s
        sampler = Sampler(project, processes, interval=every)
        feeder = Feeder(project, rate, minutes * 60, "soak-")
        feeder.start()
        sampler.start()
        feeder.join()
        samples = sampler.stop()
        wait_succeeded(project, feeder.fed, timeout=600)
        return Soak(minutes, rate, workers, samples, verify(project, feeder.fed), load_average())
    finally:
        pool.stop()
        project.drop()
