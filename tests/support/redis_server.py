"""Redis for tests: the shared server (fail, never skip, when it is down) and private ones."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.fakes.ports import restartable_port

SHARED_URL = "redis://127.0.0.1:6379/0"
START_HINT = (
    "Redis does not answer on 127.0.0.1:6379; start it with `redis-server --daemonize yes --bind 127.0.0.1 "
    "-::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log` "
    "(or `make services`)"
)


def shared_redis() -> str:
    """The machine's Redis, checked; callers isolate themselves with a key namespace."""
    try:
        redis.Redis.from_url(SHARED_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"{START_HINT}\n({exc})")
    return SHARED_URL


def unique_namespace() -> str:
    return f"despacho-test-{uuid.uuid4().hex[:10]}"




class PrivateRedis:
    """A redis-server of the test's own, without persistence, that the test may stop and restart."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt install redis-server)")
        self.binary = binary
        self.folder = folder
        self.port = restartable_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        pytest.fail(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()  # like a crash: whatever it held in memory is gone
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()
