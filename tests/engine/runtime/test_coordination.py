"""Beside RabbitMQ, what Redis did besides queueing happens in ``broker.coordination_url``: rule
throttles shared by every process, the scheduler's leader lock, the status page's leader."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from console.status import read_leader
from engine.language.events import Event
from engine.runtime.compose import Core, build_core
from engine.runtime.daemon import Daemon, Parts
from engine.runtime.leader import RedisLeader
from engine.settings import BrokerSettings, Settings, load_settings
from store.models.runs import RuleRun
from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.rabbitmq_server import rabbitmq_vhost
from tests.support.redis_server import shared_redis, unique_namespace

THROTTLED = """
rules:
  - id: r
    on: a.b
    throttle: {key: "{{ data.customer }}", limit: 2, per: 1d}
    do:
      - sms.send: {to: "+5511987654321", body: "oi"}
"""


@pytest.fixture
def rabbitmq_broker() -> Iterator[BrokerSettings]:
    with rabbitmq_vhost() as url:
        yield BrokerSettings(url=url, namespace=unique_namespace(), coordination_url=shared_redis())


def settings_for(root: Path, rules: str, broker: BrokerSettings) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    settings = load_settings(str(make_project(root, rules)), environ={})
    settings.broker = broker
    return settings


def statuses(core: Core) -> list[str]:
    with Session(core.db) as session:
        return [run.status for run in session.exec(select(RuleRun).order_by(RuleRun.created_at))]


def test_a_throttle_beside_rabbitmq_is_shared_by_every_process(tmp_path: Path,
                                                                rabbitmq_broker: BrokerSettings) -> None:
    first = build_core(settings_for(tmp_path / "a", THROTTLED, rabbitmq_broker), consume=False)
    second = build_core(settings_for(tmp_path / "b", THROTTLED, rabbitmq_broker), consume=False)
    try:
        for core, event_id in ((first, "e1"), (first, "e2"), (second, "e3")):
            core.accept([Event(type="a.b", id=event_id, data={"customer": "c1"})])
            core.relay.relay_once()
        first_runs, second_runs = statuses(first), statuses(second)
    finally:
        first.close()
        second.close()
    assert len(first_runs) == 2 and "skipped" not in first_runs
    assert second_runs == ["skipped"]  # the two runs of the other process counted
    client = redis.Redis.from_url(shared_redis())
    keys = client.keys(f"{rabbitmq_broker.namespace}:throttle:*")
    assert len(keys) == 1 and int(client.get(keys[0]) or 0) == 3
    client.delete(*keys)


def test_the_scheduler_leads_through_the_coordination_redis(tmp_path: Path,
                                                            rabbitmq_broker: BrokerSettings) -> None:
    settings = settings_for(tmp_path, THROTTLED, rabbitmq_broker)
    daemon = Daemon(settings, Parts(relay=False, workers=False, watch_rules=False))
    assert isinstance(daemon.leader, RedisLeader)
    daemon.start()
    try:
        deadline = time.monotonic() + 10
        while not daemon.leader.is_leader() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon.leader.is_leader()
        leader = read_leader(settings)
        assert leader.mode == "redis" and leader.holder
    finally:
        daemon.stop()
