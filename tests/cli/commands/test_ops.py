"""`despacho run` as an admin starts it: serves, reloads on SIGHUP, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.engine.runtime.pipeline_helpers import make_project
from tests.fakes.ports import free_port

RULES = """
rules:
  - id: hello
    on: hello.world
    do:
      - log.write: {message: "hello {{ event.id }}", level: warning}
"""


def test_run_serves_events_rejects_a_bad_reload_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = make_project(tmp_path, RULES)
    port = free_port()
    with config.open("a") as handle:
        handle.write(f"api: {{port: {port}}}\nexecution: {{log_level: INFO}}\n")
    despacho = Path(sys.executable).parent / "despacho"
    process = subprocess.Popen([str(despacho), "--config", str(config), "run"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        body = _get(f"http://127.0.0.1:{port}/health", seconds=30)
        assert json.loads(body) == {"status": "ok"}
        command = [str(despacho), "--config", str(config), "emit", "hello.world", "--id", "h1"]
        emitted = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
        assert emitted.returncode == 0, emitted.stderr
        (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: broken\n    on: a.b\n    do: []\n")
        time.sleep(0.5)
        process.send_signal(signal.SIGHUP)
        time.sleep(3)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    assert "hello h1" in events  # the event ran through the daemon
    rejected = [line for line in lines if line["event"] == "rules_rejected"]
    assert rejected and "needs at least 1 item" in rejected[0]["problems"][0]
    assert events[-1] == "daemon_stopped"


def _get(url: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
