"""What every scenario shares: services, a project, worker processes, a feeder, samples and checks.

A scenario makes a fresh database and Redis namespace (``Project``), starts real ``despacho
worker`` processes on it (``Workers``), feeds events (``store_backlog`` in bulk, ``Feeder`` at a
steady rate), and ends with ``verify``: every event made exactly one effect at the vendor.
Events are stored the way ``despacho emit`` and the API's group commit store them
(``engine.runtime.intake.accept_events``), in one transaction per batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from bench.loadtest.services import PrivatePostgres, PrivateRedis, free_port

EVENT_TYPE = "loadtest.event"
RULE = """
rules:
  - id: loadtest
    on: loadtest.event
    do:
      - http.request:
          url: "VENDOR/effects"
          json: {event: "{{ event.id }}"}
          timeout: 30
        retry: {attempts: 10, delay: 2s}
"""
REPO = Path(__file__).resolve().parents[2]
MIB = 2**20


class Services:
    """The private redis-server, PostgreSQL cluster and vendor process of one suite run."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="despacho-loadtest-"))
        self.redis = PrivateRedis(self.root)
        self.pg = PrivatePostgres()
        self.vendor_port = free_port()
        self.vendor_process: subprocess.Popen[bytes] | None = None

    def start(self) -> Services:
        self.redis.start()
        self.pg.init()
        self.pg.start()
        self.vendor_process = subprocess.Popen(
            [sys.executable, "-m", "bench.loadtest.vendor", str(self.vendor_port)], cwd=REPO)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.vendor_stats()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.vendor_process and self.vendor_process.poll() is None:
            self.vendor_process.terminate()
            self.vendor_process.wait(timeout=10)
        self.redis.kill()
        self.pg.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def vendor_url(self) -> str:
        return f"http://127.0.0.1:{self.vendor_port}"

    def _vendor(self, path: str, body: str | None = None) -> dict[str, Any]:
        data = body.encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(self.vendor_url + path, data=data),
                                    timeout=30) as answer:
            return dict(json.loads(answer.read()))

    def vendor_mode(self, mode: str) -> None:
        self._vendor("/_mode", mode)

    def vendor_reset(self) -> None:
        self._vendor("/_reset", "")
        self.vendor_mode("ok")

    def vendor_stats(self, since: float = 0) -> dict[str, Any]:
        return self._vendor(f"/_stats?since={since}")


@dataclass
class Project:
    """One scenario's database, Redis namespace and config file."""

    services: Services
    name: str
    url: str
    config: Path
    namespace: str
    folder: Path

    @property
    def dsn(self) -> str:
        return self.services.pg.dsn(self.name)

    def drop(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.services.pg.drop_database(self.name)


def make_project(services: Services, threads: int = 8, **execution: float) -> Project:
    """A fresh database (migrated), namespace and config; the vendor's ledger emptied."""
    from store.migrate import upgrade

    name = f"loadtest_{uuid.uuid4().hex[:8]}"
    url = services.pg.create_database(name)
    upgrade(url)
    folder = services.root / name
    (folder / "rules").mkdir(parents=True)
    (folder / "templates").mkdir()
    (folder / "rules" / "loadtest.yaml").write_text(RULE.replace("VENDOR", services.vendor_url))
    namespace = f"lt-{uuid.uuid4().hex[:8]}"
    extra = "".join(f", {key}: {value}" for key, value in execution.items())
    config = folder / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        rules: {{path: {folder / 'rules'}}}
        templates: {{path: {folder / 'templates'}}}
        outbox: {{path: {folder / 'outbox'}}}
        database: {{url: "{url}"}}
        broker: {{url: "{services.redis.url}", namespace: {namespace}}}
        execution: {{worker_threads: {threads}, log_level: WARNING{extra}}}
        connectors: {{http: {{allow_private: true}}}}
    """))
    services.vendor_reset()
    return Project(services, name, url, config, namespace, folder)


class Workers:
    """``despacho --config CONFIG worker`` processes, one Python process each (each relays and reaps)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = (project.folder / "workers.log").open("ab")

    def start(self, count: int = 1) -> None:
        despacho = Path(sys.executable).parent / "despacho"
        for _ in range(count):
            self.processes.append(subprocess.Popen(
                [str(despacho), "--config", str(self.project.config), "worker"],
                stdout=subprocess.DEVNULL, stderr=self.log, cwd=self.project.folder))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]

    def kill(self, count: int) -> None:
        """SIGKILL the first ``count`` live workers (no clean shutdown: in-flight steps are cut)."""
        victims = [p for p in self.processes if p.poll() is None][:count]
        for victim in victims:
            victim.send_signal(signal.SIGKILL)
        for victim in victims:
            victim.wait(timeout=10)
            self.processes.remove(victim)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes = []
        self.log.close()


def wait_consuming(redis_url: str, namespace: str, processes: int, timeout: float = 120) -> None:
    """Until ``processes`` Dramatiq workers beat in ``namespace`` (each broker process adds itself to
    ``<namespace>:__heartbeats__`` when it first fetches): all are up, so a span measured from now
    leaves their start-up out."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while int(client.zcard(f"{namespace}:__heartbeats__")) < processes:  # type: ignore[arg-type]
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {processes} workers consuming after {timeout:g} s")
            time.sleep(0.2)
    finally:
        client.close()


def store_backlog(project: Project, count: int, prefix: str, batch: int = 1000) -> float:
    """Store ``count`` events in transactions of ``batch``; returns events stored per second."""
    from engine.language.events import Event
    from engine.runtime.intake import accept_events
    from store.db import make_engine, session_scope

    engine = make_engine(project.url)
    started = time.perf_counter()
    for start in range(0, count, batch):
        with session_scope(engine) as session:
            accept_events(session, [Event(type=EVENT_TYPE, id=f"{prefix}{i}")
                                    for i in range(start, min(count, start + batch))])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return count / elapsed


class Feeder(threading.Thread):
    """Stores ``rate`` events a second for ``seconds``, a batch every 100 ms; an outage of the
    database delays a batch (it is retried until stored), it never drops one."""

    def __init__(self, project: Project, rate: float, seconds: float, prefix: str) -> None:
        super().__init__(daemon=True)
        self.project, self.rate, self.seconds, self.prefix = project, rate, seconds, prefix
        self.fed = 0
        self.failures = 0
        self.done = threading.Event()

    def run(self) -> None:
        from engine.language.events import Event
        from engine.runtime.intake import accept_events
        from store.db import make_engine, session_scope

        engine = make_engine(self.project.url)
        started = time.monotonic()
        total = int(self.rate * self.seconds)
        while self.fed < total:
            due = min(total, int((time.monotonic() - started) * self.rate) + 1)
            if due > self.fed:
                events = [Event(type=EVENT_TYPE, id=f"{self.prefix}{i}") for i in range(self.fed, due)]
                try:
                    with session_scope(engine) as session:
                        accept_events(session, events)
                    self.fed = due
                except sa.exc.OperationalError:  # the database is down: the same batch again
                    self.failures += 1
                    engine.dispose()
                    time.sleep(0.5)
                    continue
            time.sleep(0.1)
        engine.dispose()
        self.done.set()


def query(project: Project, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(project.dsn, autocommit=True, connect_timeout=3) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]  # our own constant SQL


def census(project: Project) -> dict[str, int]:
    """events, runs, steps by status, dead letters."""
    (events,), = query(project, "SELECT count(*) FROM events")
    (runs,), = query(project, "SELECT count(*) FROM rule_runs")
    (dead,), = query(project, "SELECT count(*) FROM dead_letters")
    counts = {"events": events, "runs": runs, "dead_letters": dead}
    for status, count in query(project, "SELECT status, count(*) FROM rule_steps GROUP BY status"):
        counts[f"steps_{status}"] = count
    return counts


def succeeded(project: Project) -> int:
    try:
        (count,), = query(project, "SELECT count(*) FROM rule_steps WHERE status = 'succeeded'")
    except psycopg.Error:
        return -1
    return int(count)


def wait_succeeded(project: Project, expected: int, timeout: float) -> float:
    """Block until ``expected`` steps succeeded; returns when (``time.time()``), or raises."""
    deadline = time.monotonic() + timeout
    while True:
        done = succeeded(project)
        if done >= expected:
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {expected} steps succeeded in {timeout:g} s: {census(project)}")
        time.sleep(0.25)


def drain_span(project: Project) -> float:
    """Seconds from the first step started to the last finished."""
    (span,), = query(project, "SELECT extract(epoch FROM max(finished_at) - min(started_at)) "
                              "FROM rule_steps WHERE status = 'succeeded'")
    return float(span)


def latencies_ms(project: Project, prefix: str) -> list[float]:
    """Event recorded -> its step finished (the vendor answered and the result is recorded), in ms."""
    rows = query(project, "SELECT extract(epoch FROM s.finished_at - e.recorded_at) * 1000 FROM events e "
                          "JOIN rule_runs r ON r.event_id = e.id JOIN rule_steps s ON s.run_id = r.id "
                          f"WHERE e.id LIKE '{prefix}%' AND s.status = 'succeeded'")
    return sorted(float(value) for (value,) in rows)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


def worker_warnings(project: Project) -> dict[str, int]:
    """The workers' warning and error log lines by event name (their stderr is JSON lines), with
    ``steps_resent``: how many queued steps the reapers sent again, and ``deadlocks``."""
    counts: dict[str, int] = {}
    path = project.folder / "workers.log"
    if not path.exists():
        return counts
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or record.get("level") not in ("warning", "error", "critical"):
            continue
        name = str(record.get("event"))
        counts[name] = counts.get(name, 0) + 1
        if name == "steps_requeued":
            counts["steps_resent"] = counts.get("steps_resent", 0) + int(record.get("queued") or 0)
        if "deadlock detected" in str(record.get("error", "")):
            counts["deadlocks"] = counts.get("deadlocks", 0) + 1
    return counts


def warnings_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items())) or "none"


@dataclass
class Verdict:
    """Exactly one effect per event: ``lost`` events made none, ``doubled`` made two."""

    expected: int
    lost: int
    doubled: int
    executed_twice: int
    dead_letters: int
    census: dict[str, int]
    vendor: dict[str, Any]
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.dead_letters == 0


def verify(project: Project, expected: int) -> Verdict:
    counts = census(project)
    vendor = project.services.vendor_stats()
    lost = max(expected - vendor["events"], expected - counts.get("steps_succeeded", 0))
    return Verdict(expected, lost=max(0, lost), doubled=vendor["events_doubled"],
                   executed_twice=vendor["keys_executed_twice"], dead_letters=counts["dead_letters"],
                   census=counts, vendor=vendor, warnings=worker_warnings(project))


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def queue_length(project: Project) -> int:
    client = redis.Redis.from_url(project.services.redis.url, socket_timeout=2)
    keys = [f"{project.namespace}:{queue}{suffix}" for queue in ("despacho-steps", "despacho-steps-resumed")
            for suffix in ("", ".DQ")]
    try:
        return sum(int(client.llen(key)) for key in keys)  # type: ignore[arg-type]
    except redis.RedisError:
        return -1
    finally:
        client.close()


@dataclass
class Sample:
    at: float
    rss: dict[str, float]
    queue: int
    backlog: int
    connections: int
    succeeded: int


@dataclass(eq=False)  # a thread must stay hashable
class Sampler(threading.Thread):
    """Every ``interval`` s: RSS of each named process, the Redis queue, the unfinished events and the
    database's connections (``pg_stat_activity``)."""

    project: Project
    processes: dict[str, int]
    interval: float = 5.0
    samples: list[Sample] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append(self.sample())
            self.stopping.wait(self.interval)

    def sample(self) -> Sample:
        rss = {name: value for name, pid in self.processes.items() if (value := rss_mib(pid)) is not None}
        try:
            (events, done, connections), = query(
                self.project,
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rule_steps WHERE status = "
                "'succeeded'), (SELECT count(*) FROM pg_stat_activity WHERE datname = "
                f"'{self.project.name}')")
        except psycopg.Error:
            events = done = connections = -1
        return Sample(time.time(), rss, queue_length(self.project), events - done, connections - 1, done)

    def stop(self) -> list[Sample]:
        self.stopping.set()
        self.join()
        return self.samples


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


def cpu_times(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process has used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    return times


def children(parent: int | None) -> list[int]:
    """The processes whose parent is ``parent`` (PostgreSQL's backends, under the postmaster)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by some processes and by PostgreSQL's backends
    (a backend that ended meanwhile is not counted: the pools keep theirs for the whole run)."""

    def __init__(self, pids: list[int], postmaster: int | None) -> None:
        self.pids, self.postmaster = pids, postmaster
        self.before = cpu_times(pids)
        self.pg_before = cpu_times(children(postmaster))

    def stop(self) -> tuple[float, float]:
        after = cpu_times(self.pids)
        pg_after = cpu_times(children(self.postmaster))
        ours = sum(after[p] - self.before.get(p, 0) for p in after)
        pg = sum(pg_after[p] - self.pg_before.get(p, 0) for p in pg_after)
        return ours, pg


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
