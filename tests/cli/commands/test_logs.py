"""The log recipe of docs/operations.md works: every line of the real processes is JSON, the libraries'
lines too (APScheduler, Dramatiq, uvicorn), so the documented ``jq`` command reads them all."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.engine.runtime.pipeline_helpers import make_project
from tests.fakes.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
DESPACHO = Path(sys.executable).parent / "despacho"
RULES = """
rules:
  - id: hello
    on: hello.world
    do:
      - log.write: {message: "hello {{ event.id }}"}
  - id: tick
    on: {every: 1s}
    do:
      - log.write: {message: tick}
"""


def documented_filter() -> str:
    """The jq filter of the recipe in docs/operations.md, so the test follows the documentation."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    found = re.search(r"^despacho run 2>&1 \| jq '([^']+)'$", text, re.MULTILINE)
    assert found, "docs/operations.md lost its `despacho run 2>&1 | jq '...'` recipe"
    return found.group(1)


def jq() -> str:
    path = shutil.which("jq")
    if path is None:
        pytest.fail("jq is not installed: `make test` installs it (scripts/ensure-tools), or run "
                    "`apt-get install jq`")
    return path


def run_until(command: list[str], cwd: Path, output: Path, ready: str, then: list[str] | None = None,
              seconds: float = 40) -> None:
    """Start a despacho process with stdout and stderr in ``output`` (the recipe's ``2>&1``), wait for a
    line containing ``ready``, fetch ``then`` URLs, and stop it with SIGTERM."""
    with output.open("w") as sink:
        process = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + seconds
            while ready not in output.read_text():
                assert process.poll() is None, output.read_text()[-2000:]
                assert time.monotonic() < deadline, f"no {ready!r} in: {output.read_text()[-2000:]}"
                time.sleep(0.2)
            for url in then or []:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            # uvicorn ends by raising the signal again once it has shut down cleanly
            assert process.wait(timeout=60) in (0, -signal.SIGTERM), output.read_text()[-2000:]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def loggers(output: Path) -> set[str]:
    lines = output.read_text().splitlines()
    assert lines
    return {json.loads(line).get("logger", "despacho") for line in lines}  # each line parses, or fails here


def test_the_documented_jq_recipe_reads_every_line_of_the_daemon_and_the_api(tmp_path: Path) -> None:
    program = jq()
    config = make_project(tmp_path, RULES)
    port = free_port()
    with config.open("a") as handle:
        handle.write(f"api: {{port: {port}}}\nexecution: {{log_level: DEBUG}}\n")
    emit = [str(DESPACHO), "--config", str(config), "emit", "hello.world", "--id", "evt-123"]
    emitted = subprocess.run(emit, capture_output=True, text=True, cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    daemon_log, api_log = tmp_path / "run.log", tmp_path / "api.log"
    run_until([str(DESPACHO), "--config", str(config), "run"], tmp_path, daemon_log, '"hello evt-123"')
    api_port = free_port()
    run_until([str(DESPACHO), "--config", str(config), "api", "--port", str(api_port)], tmp_path, api_log,
              "Uvicorn running on", then=[f"http://127.0.0.1:{api_port}/health"])
    daemon_loggers = loggers(daemon_log)
    assert any(name.startswith("apscheduler.") for name in daemon_loggers), daemon_loggers
    assert any(name.startswith("dramatiq.") for name in daemon_loggers), daemon_loggers
    assert {"uvicorn.error", "uvicorn.access"} <= loggers(api_log)
    for log in (daemon_log, api_log):
        done = subprocess.run(f"{program} '{documented_filter()}' < {log}", shell=True, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr  # jq stops at the first line that is not JSON
    done = subprocess.run([program, "-c", documented_filter()], stdin=daemon_log.open(), capture_output=True,
                          text=True, check=True)
    events = [json.loads(line)["event"] for line in done.stdout.splitlines()]
    assert "hello evt-123" in events and "step_succeeded" in events
