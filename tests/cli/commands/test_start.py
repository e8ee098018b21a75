"""Starting a daemon: with broken rule files it runs the last accepted set (degraded) or refuses when
there never was one; from another folder it creates no database and says which config and database
it used."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from engine.runtime.compose import build_core
from engine.settings import load_settings
from tests.engine.runtime.pipeline_helpers import make_project
from tests.fakes.ports import free_port

DESPACHO = Path(sys.executable).parent / "despacho"
GOOD = """
rules:
  - id: hello
    on: hello.world
    do:
      - log.write: {message: "hello {{ event.id }}", level: warning}
"""
BROKEN = "rules:\n  - id: hello\n    on: hello.world\n    do: []\n"


def despacho(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DESPACHO), *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_run_with_a_broken_rule_file_starts_with_the_last_accepted_set_and_runs_events(
        tmp_path: Path) -> None:
    config = make_project(tmp_path, GOOD)
    port = free_port()
    with config.open("a") as handle:
        handle.write(f"api: {{port: {port}}}\n")
    core = build_core(load_settings(str(config), environ={}), sender=lambda *_: None)  # an earlier good start
    version = core.rules.state().version
    core.close()
    (tmp_path / "rules" / "r.yaml").write_text(BROKEN)  # then a deploy of a broken file, and a restart
    emitted = despacho("--config", str(config), "emit", "hello.world", "--id", "h1", cwd=tmp_path)
    assert emitted.returncode == 0, emitted.stderr
    process = subprocess.Popen([str(DESPACHO), "--config", str(config), "run"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = _get(f"http://127.0.0.1:{port}/ready", seconds=30)
        time.sleep(1.5)  # the relay and a worker take the stored event
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-2000:]
    assert json.loads(ready) == {"status": "degraded"}
    lines = [json.loads(line) for line in stderr.splitlines()]
    by_event = {line["event"]: line for line in lines}
    degraded = by_event["rules_degraded"]
    assert degraded["version"] == version and degraded["level"] == "error"
    assert degraded["problems"] == ["rules/r.yaml:4:9: rules[0].do: needs at least 1 item(s)"]
    assert by_event["daemon_started"]["degraded"] is True
    assert by_event["daemon_started"]["rules_version"] == version
    assert "hello h1" in by_event  # the event ran under the stored rules


def test_run_with_broken_rule_files_and_no_accepted_set_refuses_to_start(tmp_path: Path) -> None:
    config = make_project(tmp_path, BROKEN)
    done = despacho("--config", str(config), "run", cwd=tmp_path)
    assert done.returncode == 1
    assert "rules[0].do: needs at least 1 item(s)" in done.stderr
    assert "the rules have problems: 1 problem" in done.stderr


def test_a_command_run_from_another_folder_creates_no_database_and_says_which_it_looked_for(
        tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for command in (["status"], ["emit", "a.b"], ["dlq", "list"], ["db", "current"]):
        done = despacho(*command, cwd=elsewhere)
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.strip() == (
            "config: (no config file found: defaults), database: sqlite:///var/despacho.db — "
            f"no such database: {elsewhere / 'var' / 'despacho.db'}: "
            "run `despacho db upgrade` to create it"), command
    assert list(elsewhere.iterdir()) == []


def test_a_daemon_started_from_another_folder_names_its_config_and_creates_no_database(
        tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    make_project(project, GOOD)
    elsewhere.mkdir()
    config = project / "config.yaml"
    config.write_text(config.read_text().replace(f"sqlite:///{project / 'despacho.db'}", "sqlite:///var/d.db"))
    done = despacho("--config", str(config), "run", cwd=elsewhere)
    assert done.returncode == 1
    first = json.loads(done.stderr.splitlines()[0])
    assert (first["event"], first["config"], first["database"]) == (
        "despacho_config", str(config), "sqlite:///var/d.db")
    assert done.stderr.splitlines()[-1] == (
        f"config: {config}, database: sqlite:///var/d.db — no such database: {elsewhere / 'var' / 'd.db'}: "
        "run `despacho db upgrade` to create it")
    assert list(elsewhere.iterdir()) == []


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
