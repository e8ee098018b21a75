"""Leadership in tests: a Redis link the test can cut, and waiting for something to happen."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis


class Partition:
    """A Redis client whose calls hang while the link is cut, as for a daemon cut off or paused."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.link = threading.Event()
        self.link.set()

    def cut(self) -> None:
        self.link.clear()

    def heal(self) -> None:
        self.link.set()

    def eval(self, *args):
        self.link.wait()
        return self.client.eval(*args)

    def set(self, *args, **kwargs):
        self.link.wait()
        return self.client.set(*args, **kwargs)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll until ``condition`` holds; returns the monotonic time it first did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.02)
    pytest.fail(f"{what} did not happen within {seconds} s")
