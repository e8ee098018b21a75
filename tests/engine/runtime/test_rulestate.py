"""The rule set in force: a refused reload keeps it and says why; the watcher outlives any rule file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from engine.runtime.rulestate import RuleSetHolder
from tests.engine.runtime.pipeline_helpers import make_project

GOOD = """
rules:
  - id: first
    on: a.b
    do:
      - log.write: {message: "ok"}
"""
HOSTILE_CEL = "rules:\n  - id: hostile\n    on: a.b\n    if: \"1" + " + 1" * 17_500 + " > 0\"\n" \
              "    do:\n      - log.write: {message: x}\n"


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_refused_reload_keeps_the_set_in_force_and_records_why(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    before = holder.state()
    (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_CEL)
    result = holder.reload()
    assert not result.ok and "characters long" in result.problems[0]
    after = holder.state()
    assert after.ruleset is before.ruleset and after.loaded_at == before.loaded_at
    assert after.digest == before.digest  # the digest is of the files in force, not of the refused ones
    assert after.reload_error is not None
    [problem] = after.reload_error.problems
    assert (problem.file.endswith("r.yaml"), problem.line, problem.path) == (True, 4, "rules[0].if")


def test_a_good_reload_clears_the_last_error_and_changes_the_digest(tmp_path: Path) -> None:
    make_project(tmp_path, GOOD)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    first = holder.state().digest
    (tmp_path / "rules" / "r.yaml").write_text("rules: [{id: x, on: a.b, do: []}]\n")
    assert not holder.reload().ok
    (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "second"))
    assert holder.reload().ok
    state = holder.state()
    assert list(state.ruleset.by_id) == ["second"]
    assert state.reload_error is None and state.digest != first


def test_the_watcher_survives_a_hostile_rule_and_takes_a_later_good_edit(tmp_path: Path) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings

    config = make_project(tmp_path, GOOD)
    daemon = Daemon(load_settings(str(config), environ={}),
                    Parts(relay=False, workers=False, scheduler=False, watch_rules=True))
    daemon.start()
    try:
        (tmp_path / "rules" / "r.yaml").write_text(HOSTILE_CEL)
        wait_until(lambda: daemon.rules.state().reload_error is not None)
        assert list(daemon.rules().by_id) == ["first"]
        (tmp_path / "rules" / "r.yaml").write_text(GOOD.replace("first", "later"))
        wait_until(lambda: list(daemon.rules().by_id) == ["later"])
        assert daemon.rules.state().reload_error is None
        assert all(thread.is_alive() for thread in daemon._threads)
    finally:
        daemon.stop()
