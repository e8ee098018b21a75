"""``despacho worker --processes N``: its children live and die with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.runtime.pipeline_helpers import make_project
from tests.support.redis_server import shared_redis, unique_namespace

RULES = """
rules:
  - id: noop
    on: noop.happened
    do:
      - log.write: {message: "noop"}
"""


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sigterm_to_a_multi_process_worker_stops_its_children(tmp_path: Path) -> None:
    config = make_project(tmp_path, RULES)
    text = config.read_text().replace('broker: {url: "stub://"}\n', "")
    config.write_text(text + f'broker: {{url: "{shared_redis()}", namespace: {unique_namespace()}}}\n')
    despacho = Path(sys.executable).parent / "despacho"
    parent = subprocess.Popen([str(despacho), "--config", str(config), "worker", "--processes", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while len(workers) < 2:
            assert parent.poll() is None, "the worker exited on its own"
            assert time.monotonic() < deadline, "the worker processes never started"
            time.sleep(0.2)
            workers = [pid for pid in children_of(parent.pid)
                       if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
        time.sleep(3)  # let them finish starting (imports, broker, database)
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if left:
        pytest.fail(f"worker processes {left} outlived their parent")
