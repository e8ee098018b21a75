"""Two real ``despacho worker`` processes, one PostgreSQL, one Redis, each with its own rules checkout.

A deploy that reaches machine A first leaves A on the old set (its new set waits,
as ``despacho status`` shows); once B has the same commit, both put it in force.
A worker stopped with SIGTERM leaves the roll-out.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from store.daemon_rules import everyone
from store.db import make_engine
from store.migrate import upgrade
from store.models import DaemonRules
from tests.support.postgres import throwaway_pg_database
from tests.support.redis_server import shared_redis, unique_namespace

V1 = """
rules:
  - id: notify
    on: order.created
    do:
      - log.write: {message: "v1"}
"""
V2 = V1.replace("v1", "v2")
DESPACHO = Path(sys.executable).parent / "despacho"


def machine(root: Path, database: str, namespace: str) -> Path:
    (root / "rules").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "rules" / "r.yaml").write_text(textwrap.dedent(V1).lstrip(), encoding="utf-8")
    config = root / "config.yaml"
    config.write_text(json.dumps({
        "rules": {"path": str(root / "rules")}, "templates": {"path": str(root / "templates")},
        "outbox": {"path": str(root / "outbox")}, "database": {"url": database},
        "broker": {"url": shared_redis(), "namespace": namespace},
        "execution": {"worker_threads": 2, "log_level": "WARNING"},
        "secrets": {"keys_file": str(root / "secrets.keys")},
        "api": {"jwt_keys_file": str(root / "jwt.keys")}}), encoding="utf-8")
    return config


def wait_until(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def rows(db: sa.Engine) -> list[DaemonRules]:
    with Session(db) as session:
        return everyone(session)


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url


def test_workers_on_two_machines_switch_rules_together_once_both_have_the_commit(
        tmp_path: Path, database: str) -> None:
    namespace = unique_namespace()
    configs = [machine(tmp_path / name, database, namespace) for name in ("a", "b")]
    workers = [subprocess.Popen([str(DESPACHO), "--config", str(c), "worker"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE) for c in configs]
    db = make_engine(database)
    try:
        wait_until(lambda: len(rows(db)) == 2, "both workers to report their rules")
        (old,) = {r.active_digest for r in rows(db)}
        (tmp_path / "a" / "rules" / "r.yaml").write_text(textwrap.dedent(V2).lstrip(), encoding="utf-8")
        wait_until(lambda: any(r.candidate_digest for r in rows(db)), "machine A to load the new set")
        time.sleep(3)  # a few watcher ticks: A must still run the old set, B has not got the commit
        assert {r.active_digest for r in rows(db)} == {old}
        status = subprocess.run([str(DESPACHO), "--config", str(configs[0]), "status", "--format", "json"],
                                capture_output=True, text=True, timeout=60, check=True)
        shown = json.loads(status.stdout)["daemons"]
        assert sorted(d["offered_state"] or "-" for d in shown) == ["-", "waiting"]
        (tmp_path / "b" / "rules" / "r.yaml").write_text(textwrap.dedent(V2).lstrip(), encoding="utf-8")
        wait_until(lambda: len({r.active_digest for r in rows(db)} - {old}) == 1
                   and all(r.active_digest != old and r.candidate_digest is None for r in rows(db)),
                   "both workers to put the new set in force")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=60)[1].decode() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    assert rows(db) == []  # each stopped cleanly and left
    db.dispose()
