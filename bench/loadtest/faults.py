"""Faults under a steady load: each ends with every event made exactly once, and a recovery time.

Each fault runs on its own database and namespace with N ``despacho worker`` processes and the
feeder storing ``rate`` events/s for ``before`` s, through the fault, and ``after`` s past its end:

- ``worker-kill``: the vendor answers in ``KILL_CALL_SECONDS`` (as real vendors do: calls are in
  flight), half the workers are SIGKILLed (the steps they were running are cut), replacements
  started at once; the steps cut are followed until claimed again (their lease lapses);
- ``redis-restart``: the private redis-server killed (no persistence: every queued message is gone)
  and started again after ``outage`` s;
- ``postgres-restart``: the private cluster stopped ``-m immediate`` (a crash: connections cut, no
  checkpoint) and started again after ``outage`` s; the feeder's batches wait and are retried;
- ``vendor-5xx``: the vendor answers 503 for ``fault_seconds``, then recovers;
- ``vendor-slow``: the vendor answers after 10 s for ``fault_seconds``, then answers at once again.

Recovery is measured from the fault's end (the kill, the service back, the vendor healed): to the
first success at the vendor, and to the backlog drained (unfinished events back to the level seen
before the fault, or to one second of load, whichever is higher).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.loadtest.harness import (
    Feeder,
    Project,
    Sample,
    Sampler,
    Services,
    Verdict,
    Workers,
    load_average,
    make_project,
    query,
    verify,
    wait_succeeded,
    warnings_text,
)

KILL_CALL_SECONDS = 0.3
FAULTS = ("worker-kill", "redis-restart", "postgres-restart", "vendor-5xx", "vendor-slow")


@dataclass
class FaultResult:
    name: str
    description: str
    events: int
    first_success_s: float | None
    drained_s: float | None
    peak_backlog: int
    verdict: Verdict
    load: str

    def row(self) -> str:
        v = self.verdict

        def seconds(value: float | None) -> str:
            return "—" if value is None else f"{value:.1f}"

        return (f"| {self.name} | {self.description} | {self.events:,} | {v.lost} | {v.doubled} | "
                f"{v.executed_twice} | {v.dead_letters} | {seconds(self.first_success_s)} | "
                f"{seconds(self.drained_s)} | {self.peak_backlog:,} | {warnings_text(v.warnings)} | "
                f"{self.load} |")


def fault_table(results: list[FaultResult], rate: float, workers: int) -> str:
    lines = [f"### Faults under a steady {rate:g} events/s, {workers} worker processes", "",
             "| fault | what | events | lost | doubled | keys executed twice | dead letters | "
             "first success after (s) | backlog drained after (s) | peak backlog | worker warnings | "
             "load average |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    lines += [r.row() for r in results]
    lines += ["", "*lost*: events without their one successful vendor effect (or step not succeeded); "
              "*doubled*: events that reached the vendor under two keys, each answered with a success; "
              "*keys executed twice*: the same idempotency key answered with a success twice (harmless at a "
              "vendor that honours the key; a vendor that ignores it would have done it twice). Times from "
              "the fault's end.", ""]
    return "\n".join(lines)


def running_steps(project: Project) -> dict[str, int]:
    return {step: attempts for step, attempts in
            query(project, "SELECT id, attempts FROM rule_steps WHERE status = 'running'")}


def resumptions(project: Project, cut: dict[str, int], killed_at: float, within: float = 60) -> list[float]:
    """Seconds from the kill to the next claim of each step running then that was the victims'
    (claimed again with a higher attempt); the survivors' steps simply finish at the same attempt."""
    pending, resumed = dict(cut), []
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        ids = ",".join(f"'{step}'" for step in pending)
        for step, attempts, status, started in query(
                project, f"SELECT id, attempts, status, extract(epoch FROM started_at) FROM rule_steps "
                         f"WHERE id IN ({ids})"):
            if attempts > pending[step]:
                resumed.append(float(started) - killed_at)
                del pending[step]
            elif status not in ("running", "queued"):
                del pending[step]
        time.sleep(0.1)
    return resumed


def _inject(name: str, services: Services, project: Project, pool: Workers, workers: int, outage: float,
            fault_seconds: float) -> tuple[str, float]:
    """Make the fault happen and end; returns its description and when it ended (``time.time()``)."""
    if name == "worker-kill":
        victims = max(1, workers // 2)
        cut = running_steps(project)
        pool.kill(victims)
        ended = time.time()
        pool.start(victims)
        resumed = resumptions(project, cut, ended)
        after = f", all claimed again within {max(resumed):.1f} s" if resumed else ""
        return (f"SIGKILL {victims} of {workers} workers mid-call (vendor answering in "
                f"{KILL_CALL_SECONDS:g} s), replacements started; {len(resumed)} steps cut{after}", ended)
    if name == "redis-restart":
        services.redis.kill()
        time.sleep(outage)
        services.redis.start()
        return f"redis-server killed (no persistence), back after {outage:g} s", time.time()
    if name == "postgres-restart":
        services.pg.stop("immediate")
        time.sleep(outage)
        services.pg.start()
        return f"PostgreSQL stopped -m immediate, back after {outage:g} s", time.time()
    mode = {"vendor-5xx": "5xx", "vendor-slow": "slow"}[name]
    services.vendor_mode(mode)
    time.sleep(fault_seconds)
    services.vendor_mode("ok")
    what = "answers 503" if mode == "5xx" else "answers after 10 s"
    return f"vendor {what} for {fault_seconds:g} s", time.time()


def drained_after(samples: list[Sample], fault_started: float, ended: float, floor: float) -> float | None:
    before = [s.backlog for s in samples if s.at < fault_started and s.backlog >= 0]
    threshold = max([floor, *before])
    for sample in samples:
        if sample.at >= ended and 0 <= sample.backlog <= threshold:
            return sample.at - ended
    return None


def run_fault(services: Services, name: str, *, rate: float, workers: int, before: float, after: float,
              outage: float, fault_seconds: float, settle_timeout: float = 900) -> FaultResult:
    project = make_project(services)
    pool = Workers(project)
    sampler: Sampler | None = None
    try:
        pool.start(workers)
        warm = Feeder(project, 10, 0.1, "warm-")
        warm.run()
        wait_succeeded(project, warm.fed, timeout=120)  # the workers are up
        if name == "worker-kill":
            services.vendor_mode(f"delay:{KILL_CALL_SECONDS}")
        sampler = Sampler(project, {}, interval=0.5)
        sampler.start()
        duration = before + after + (outage if "restart" in name else 0) + \
            (fault_seconds if name.startswith("vendor") else 0)
        feeder = Feeder(project, rate, duration, f"{name}-")
        feeder.start()
        time.sleep(before)
        started = time.time()
        description, ended = _inject(name, services, project, pool, workers, outage, fault_seconds)
        feeder.join()
        wait_succeeded(project, warm.fed + feeder.fed, timeout=settle_timeout)
        samples = sampler.stop()
        first = services.vendor_stats(since=ended)["first_success_after"]
        verdict = verify(project, warm.fed + feeder.fed)
        peak = max((s.backlog for s in samples), default=0)
        return FaultResult(name, description, warm.fed + feeder.fed,
                           None if first is None else max(0.0, first - ended),
                           drained_after(samples, started, ended, rate), peak, verdict, load_average())
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        services.vendor_mode("ok")
        pool.stop()
        project.drop()
