"""Hostile rule files and event files, replayed: each is a located problem, never a crash or a hang.

They run through the real console script (a crash of the CEL library would kill the process, and
``validate`` printed a traceback), the real daemon's rule watcher and ``GET /v1/rules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.language.cel_limits import MAX_EXPRESSION_LENGTH, MAX_EXPRESSION_NESTING
from engine.language.yamlsafe import MAX_DEPTH
from tests.conftest import write

DESPACHO = Path(sys.executable).parent / "despacho"
ACTION = "    do:\n      - log.write: {message: x}\n"


def rule(condition: str) -> str:
    return f"rules:\n  - id: hostile\n    on: a.b\n    if: {json.dumps(condition)}\n{ACTION}"


HOSTILE_RULES = {
    # 70 KB: the CEL parser overflowed its stack (a segfault) or panicked (a PanicException)
    "a 70 KB CEL chain": (rule("1" + " + 1" * 17_500 + " > 0"), "rules[0].if",
                          f"at most {MAX_EXPRESSION_LENGTH} are allowed"),
    "a 120 KB CEL call nest that panics the library": (rule("size(" * 20_000 + "'a'" + ")" * 20_000 + " > 0"),
                                                       "rules[0].if", "characters long"),
    "CEL brackets nested 40 deep": (rule("(" * 40 + "true" + ")" * 40), "rules[0].if",
                                    f"at most {MAX_EXPRESSION_NESTING} are allowed"),
    # the YAML reader recursed once per level: RecursionError out of validate
    "a 950-deep YAML value": ("rules:\n  - id: deep\n    on: a.b\n    do:\n      - log.write:\n"
                              "          message: " + "[" * 950 + "]" * 950 + "\n",
                              "rules[0].do[0].log.write.message", f"nested deeper than {MAX_DEPTH} levels"),
    "a template nested past Jinja's parser": (
        "rules:\n  - id: deep\n    on: a.b\n    do:\n      - log.write:\n"
        "          message: \"{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}\"\n",
        "rules[0].do[0].log.write.message", "nested too deeply"),
}


def despacho(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # a generous bound: only a hang fails here
    return subprocess.run([str(DESPACHO), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("attack", sorted(HOSTILE_RULES))
def test_validate_reports_a_hostile_rule_as_a_located_problem(attack: str, project: Path) -> None:
    text, path, message = HOSTILE_RULES[attack]
    write(project / "rules/hostile.yaml", text)
    started = time.monotonic()
    done = despacho("validate", "--format", "json", cwd=project)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, (attack, done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    # 'on: a.b' is also a warning (no such event type): the attack is the one error
    [problem] = [p for p in json.loads(done.stdout)["problems"] if p["severity"] == "error"]
    assert problem["file"] == "rules/hostile.yaml" and problem["line"] > 0, problem
    assert problem["path"].startswith(path) and message in problem["message"], problem
    print(f"{attack}: refused in {elapsed:.2f} s")  # shown with -s; the report quotes these


def test_dry_run_refuses_a_900_deep_event_at_its_line(project: Path) -> None:
    write(project / "rules/r.yaml", "rules:\n  - id: r\n    on: a.b\n" + ACTION)
    deep: dict = {}
    node = deep
    for _ in range(900):
        node["n"] = {}
        node = node["n"]
    events = [json.dumps({"type": "a.b"}), json.dumps({"type": "a.b", "data": deep})]
    (project / "events.jsonl").write_text("\n".join(events) + "\n")
    done = despacho("dry-run", "events.jsonl", cwd=project)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "events.jsonl:2:1: data.n" in done.stderr and "nested deeper than 64 levels" in done.stderr


GOOD = "rules:\n  - id: first\n    on: a.b\n" + ACTION


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_daemon_keeps_watching_after_each_hostile_rule_and_the_api_shows_what_is_in_force(
        tmp_path: Path) -> None:
    from api.app import create_app
    from api.settings import ApiSettings
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings
    from tests.engine.runtime.pipeline_helpers import make_project

    config = make_project(tmp_path, GOOD)
    settings = load_settings(str(config), environ={})
    daemon = Daemon(settings, Parts(relay=False, workers=False, scheduler=False, watch_rules=True))
    api = ApiSettings(jwt_keys="t1:" + "k" * 48, rate_limit_storage="memory://")
    daemon.start()
    try:
        client = TestClient(create_app(settings, api=api, core=daemon.core))
        for attack in sorted(HOSTILE_RULES):
            loaded = daemon.rules.state()
            (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_RULES[attack][0])
            wait_until(lambda: daemon.rules.state().reload_error is not None)
            assert list(daemon.rules().by_id) == ["first"], attack
            assert daemon.rules.state().loaded_at == loaded.loaded_at
            (tmp_path / "rules" / "r.yaml").write_text(GOOD)  # a good edit still reloads
            wait_until(lambda: daemon.rules.state().reload_error is None)
            assert all(thread.is_alive() for thread in daemon._threads), attack
        (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_RULES["a 70 KB CEL chain"][0])
        wait_until(lambda: daemon.rules.state().reload_error is not None)
        body = _rules(client)
        assert body["source"] == "runtime" and [r["id"] for r in body["rules"]] == ["first"]
        assert body["digest"] == daemon.rules.state().digest
        [problem] = body["reload_error"]["problems"]
        assert problem["path"] == "rules[0].if" and "characters long" in problem["message"]
    finally:
        daemon.stop()


def _rules(client: TestClient) -> dict:
    """GET /v1/rules with a token of a client made for it."""
    from store.api_clients import create_client
    from store.db import session_scope

    with session_scope(client.app.state.ctx.engine) as session:
        made = create_client(session, "ops", ["rules:read"], known_scopes=["rules:read"])
        client_id, secret = made.client.key_prefix, made.secret
    token = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret}).json()["access_token"]
    response = client.get("/v1/rules", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()
