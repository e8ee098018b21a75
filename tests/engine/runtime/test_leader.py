from __future__ import annotations

import redis

from engine.runtime.leader import RedisLeader
from tests.support.redis_server import shared_redis, unique_namespace


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
