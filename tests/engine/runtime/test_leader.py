"""The scheduler lock: one leader at a time, a lapsed or cut-off leader stops leading, Redis restarts."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from engine.runtime.leader import RedisLeader
from tests.engine.runtime.leader_helpers import Partition, wait_for
from tests.support.redis_server import PrivateRedis, shared_redis, unique_namespace


def test_one_leader_at_a_time_and_the_other_takes_over_when_it_leaves() -> None:
    client = redis.Redis.from_url(shared_redis())
    key = f"{unique_namespace()}:leader"
    first, second = RedisLeader(client, key), RedisLeader(client, key)
    assert first.tick() is True
    assert second.tick() is False
    assert first.tick() is True  # renewing keeps it
    first.stop()  # releases the lock
    assert second.tick() is True
    second.stop()


def test_a_leader_whose_lease_expired_stops_leading() -> None:
    client = redis.Redis.from_url(shared_redis())
    key = f"{unique_namespace()}:leader"
    first = RedisLeader(client, key, lease_ms=10_000)
    assert first.tick()
    client.set(key, "someone-else")  # the lease ran out and another daemon took it
    assert first.tick() is False and first.is_leader() is False
    client.delete(key)


def test_a_leader_that_cannot_renew_stops_leading_before_another_can_take_the_lock() -> None:
    client = redis.Redis.from_url(shared_redis(), socket_timeout=5)
    key = f"{unique_namespace()}:leader"
    link = Partition(client)
    first, second = RedisLeader(link, key, lease_ms=600), RedisLeader(client, key, lease_ms=600)
    assert first.tick()
    first.start()
    second.start()
    try:
        link.cut()  # the renew thread now hangs in its call, as in a paused process
        both = []

        def second_leads() -> bool:
            leads = second.is_leader()
            both.append(leads and first.is_leader())
            return leads

        wait_for(second_leads, 3, "the follower taking over")
        assert not first.is_leader() and not any(both)
        link.heal()  # back: its renewal finds the lock taken
        assert first.tick() is False
        assert second.is_leader() and not first.is_leader()
    finally:
        link.heal()
        first.stop()
        second.stop()


def test_a_redis_restart_ends_leadership_and_it_comes_back(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    leader = RedisLeader(client, "despacho:scheduler:leader", lease_ms=600)
    leader.start()
    try:
        wait_for(leader.is_leader, 3, "taking the lock")
        server.stop()
        stopped = time.monotonic()
        lost = wait_for(lambda: not leader.is_leader(), 3, "losing the lead with Redis gone")
        assert lost - stopped <= 0.6 + 0.1  # at the latest when the lease it confirmed runs out
        time.sleep(0.5)
        assert not leader.is_leader()
        server.start()  # empty: the lock is gone with it
        wait_for(leader.is_leader, 5, "leading again on the restarted Redis")
    finally:
        leader.stop()
        server.stop()
